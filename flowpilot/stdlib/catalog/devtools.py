"""Engineering and IT-operations integrations: ``github.*``, ``jira.*``, ``pagerduty.*``,
``servicenow.*``."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    connection,
    date_time,
    enum,
    integer,
    node_type,
    nullable,
    obj,
    open_object,
    secret_string,
    string,
    template,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

_REPO = string("Repository as `owner/name`.", pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

GITHUB_CREATE_ISSUE = node_type(
    "github.create_issue",
    category=Category.INTEGRATION,
    summary="Open a GitHub issue",
    description="""
Opens an issue in `repository` with a `title` and a Markdown `body` (both templates), labels,
assignees and milestone.

Output: `{number, id, url, api_url, state}`.
""",
    inputs={
        "repository": _REPO,
        "title": template("Issue title; a template.", minLength=1, maxLength=256),
        "body": template("Issue body (GitHub Markdown); a template."),
        "labels": array("Labels to apply (created if missing).", {"type": "string"}),
        "assignees": array("GitHub logins to assign.", {"type": "string"}, maxItems=10),
        "milestone": integer("Milestone number.", minimum=1),
        "connection": connection("github"),
    },
    required=["repository", "title"],
    output=obj(
        "The new issue.",
        {
            "number": integer("Issue number.", minimum=1),
            "id": integer("Global issue id."),
            "url": uri("Web URL of the issue."),
            "api_url": uri("REST API URL of the issue."),
            "state": enum("Issue state.", ["open", "closed"]),
        },
        ["number", "id", "url", "api_url", "state"],
    ),
    side_effects=True,
    credential="github",
    example="""
- id: issue
  uses: github.create_issue
  with:
    repository: acme/platform
    title: "Nightly import failed for {{ steps.load.output.table }}"
    labels: [bug, ops]
""",
)

GITHUB_COMMENT = node_type(
    "github.add_comment",
    category=Category.INTEGRATION,
    summary="Comment on a GitHub issue or pull request",
    description="""
Adds a Markdown comment (a template) to issue or pull request `number`.

Output: `{id, url}`.
""",
    inputs={
        "repository": _REPO,
        "number": integer("Issue or pull-request number.", minimum=1),
        "body": template("Comment (GitHub Markdown); a template.", minLength=1),
        "connection": connection("github"),
    },
    required=["repository", "number", "body"],
    output=obj(
        "The comment.",
        {"id": integer("Comment id."), "url": uri("Web URL of the comment.")},
        ["id", "url"],
    ),
    side_effects=True,
    credential="github",
    example="""
- id: comment
  uses: github.add_comment
  with:
    repository: acme/platform
    number: ${{ trigger.body.pull_request.number }}
    body: "Deployed to staging: {{ steps.deploy.output.url }}"
""",
)

_JIRA_KEY = string("Issue key.", pattern="^[A-Z][A-Z0-9_]+-[0-9]+$", examples=["OPS-123"])

JIRA_CREATE_ISSUE = node_type(
    "jira.create_issue",
    category=Category.INTEGRATION,
    summary="Create a Jira issue",
    description="""
Creates an issue in Jira Cloud or Data Center. `description` is Markdown (a template), converted
to Atlassian Document Format; `fields` sets any other field, custom fields included
(`customfield_10042`).

Output: `{key, id, url}`.
""",
    inputs={
        "project": string("Project key.", pattern="^[A-Z][A-Z0-9_]+$", examples=["OPS"]),
        "issue_type": string("Issue type name.", default="Task", examples=["Bug", "Story", "Task"]),
        "summary": template("Issue summary; a template.", minLength=1, maxLength=255),
        "description": template("Description (Markdown); a template."),
        "priority": string("Priority name.", examples=["Highest", "High", "Medium", "Low"]),
        "labels": array("Labels (no spaces).", {"type": "string", "pattern": r"^\S+$"}),
        "assignee": string("Account id (Cloud) or user name (Data Center) of the assignee."),
        "components": array("Component names.", {"type": "string"}),
        "parent": _JIRA_KEY | {"description": "Parent issue (for sub-tasks) or epic."},
        "due_date": string("Due date.", format="date"),
        "fields": open_object("Other fields by id, in Jira REST format."),
        "connection": connection("jira"),
    },
    required=["project", "summary"],
    output=obj(
        "The new issue.",
        {
            "key": string("Issue key, e.g. `OPS-123`."),
            "id": string("Issue id."),
            "url": uri("Web URL of the issue."),
        },
        ["key", "id", "url"],
    ),
    side_effects=True,
    credential="jira",
    example="""
- id: ticket
  uses: jira.create_issue
  with:
    project: FIN
    issue_type: Task
    summary: "Check invoice {{ steps.fields.output.number }}"
    description: "Vendor: {{ steps.fields.output.vendor }}"
    labels: [invoices]
""",
)

JIRA_TRANSITION = node_type(
    "jira.transition_issue",
    category=Category.INTEGRATION,
    summary="Move a Jira issue to another status",
    description="""
Applies the workflow transition that leads to `status` (matched by name, case-insensitive),
optionally with a comment and field updates required by the transition screen.

Output: `{key, status}`.
""",
    inputs={
        "issue": _JIRA_KEY,
        "status": string("Target status name.", minLength=1, examples=["Done", "In Progress"]),
        "comment": template("Comment added with the transition (Markdown); a template."),
        "resolution": string("Resolution name, when the transition sets one.", examples=["Done"]),
        "fields": open_object("Other fields the transition screen requires."),
        "connection": connection("jira"),
    },
    required=["issue", "status"],
    output=obj(
        "The issue after the transition.",
        {"key": string("Issue key."), "status": string("New status name.")},
        ["key", "status"],
    ),
    side_effects=True,
    credential="jira",
    example="""
- id: close
  uses: jira.transition_issue
  with: { issue: "${{ steps.ticket.output.key }}", status: Done, resolution: Done }
""",
)

PAGERDUTY_TRIGGER = node_type(
    "pagerduty.trigger_incident",
    category=Category.INTEGRATION,
    summary="Trigger (or resolve) a PagerDuty alert",
    description="""
Sends an Events API v2 event to the service of `routing_key` (or of the `pagerduty`
credential). Events with the same `dedup_key` update one alert; send `action: resolve` with it
to close the alert. By default the dedup key is stable per execution, so retries do not page
twice.

Output: `{status, dedup_key, message}`.
""",
    inputs={
        "summary": template("Alert summary; a template.", minLength=1, maxLength=1024),
        "severity": enum(
            "Alert severity.", ["critical", "error", "warning", "info"], default="error"
        ),
        "source": string("Affected system (host, service).", default="flowpilot"),
        "action": enum("Event action.", ["trigger", "acknowledge", "resolve"], default="trigger"),
        "dedup_key": string("Deduplication key of the alert.", maxLength=255),
        "component": string("Affected component."),
        "group": string("Logical group of components."),
        "class": string("Class or type of the event."),
        "custom_details": open_object("Extra details shown on the alert."),
        "links": array(
            "Links shown on the alert.",
            obj("A link.", {"href": uri("URL."), "text": string("Link text.")}, ["href"]),
        ),
        "routing_key": secret_string(
            "Integration key of the service; overrides the credential.", pattern="^[A-Za-z0-9]{32}$"
        ),
        "connection": connection("pagerduty"),
    },
    required=["summary"],
    output=obj(
        "PagerDuty's answer.",
        {
            "status": string("`success` when accepted."),
            "dedup_key": string("Deduplication key of the alert; use it to resolve it."),
            "message": string("Message from PagerDuty."),
        },
        ["status", "dedup_key", "message"],
    ),
    side_effects=True,
    credential="pagerduty",
    example="""
- id: page
  uses: pagerduty.trigger_incident
  with:
    summary: "Payment sync failed {{ steps.sync.attempts }} times"
    severity: critical
    source: billing-sync
""",
)

SERVICENOW_INCIDENT = node_type(
    "servicenow.create_incident",
    category=Category.INTEGRATION,
    summary="Create a ServiceNow incident",
    description="""
Creates a record in the ServiceNow `incident` table through the Table API. Impact and urgency
(1 = high … 3 = low) determine the priority; `fields` sets any other column.

Output: `{sys_id, number, url, state}`.
""",
    inputs={
        "short_description": template("One-line summary; a template.", minLength=1, maxLength=160),
        "description": template("Details; a template."),
        "impact": enum("Impact: 1 high, 2 medium, 3 low.", [1, 2, 3], default=3),
        "urgency": enum("Urgency: 1 high, 2 medium, 3 low.", [1, 2, 3], default=3),
        "category": string("Incident category.", examples=["software", "hardware", "network"]),
        "assignment_group": string("Assignment group name or sys_id."),
        "caller": string("Caller: user name, email or sys_id."),
        "cmdb_ci": string("Affected configuration item (name or sys_id)."),
        "fields": open_object("Other incident columns by name."),
        "connection": connection("servicenow"),
    },
    required=["short_description"],
    output=obj(
        "The new incident.",
        {
            "sys_id": string("Record sys_id."),
            "number": string("Incident number, e.g. `INC0010042`."),
            "url": uri("Link to the incident."),
            "state": string("Incident state label."),
            "opened_at": nullable(date_time("When it was opened.")),
        },
        ["sys_id", "number", "url", "state", "opened_at"],
    ),
    side_effects=True,
    credential="servicenow",
    example="""
- id: incident
  uses: servicenow.create_incident
  with:
    short_description: "Invoice pipeline down"
    impact: 2
    urgency: 1
    assignment_group: Finance IT
""",
)

NODE_TYPES: list[NodeType] = [
    GITHUB_CREATE_ISSUE,
    GITHUB_COMMENT,
    JIRA_CREATE_ISSUE,
    JIRA_TRANSITION,
    PAGERDUTY_TRIGGER,
    SERVICENOW_INCIDENT,
]
