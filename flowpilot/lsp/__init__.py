"""The FlowPilot language server (``flowpilot lsp``), one module per LSP feature.

:mod:`server` assembles them; :mod:`positions` is the one converter between compiler spans and
LSP positions; :mod:`workspace` holds the flow files and their compile sessions.
"""
