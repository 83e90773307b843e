"""Flows as code: reading flows from a git repository, checking them together, and planning
what a sync would change.

The one core both sides of a sync share. ``flowpilot sync`` reads a repository here and sends
what it read to the server; the server reads registered repositories here too and plans and
applies with the same functions. Nothing in this package knows about HTTP or the database:

- :mod:`.config`: ``flowpilot.yaml`` (include/exclude globs, prune and drift policies);
- :mod:`.source`: a repository at a ref, read with dulwich (a local path or any URL it fetches);
- :mod:`.prepare`: every flow of a snapshot compiled, with every diagnostic;
- :mod:`.plan`: the plan (create, update, unchanged, drifted, delete) against a server's state;
- :mod:`.export`: writing flows as files and committing them (``flowpilot export``).
"""
