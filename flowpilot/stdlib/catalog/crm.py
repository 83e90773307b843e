"""CRM and billing integrations: ``salesforce.*``, ``hubspot.*``, ``stripe.*``."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    boolean,
    connection,
    date_time,
    enum,
    integer,
    node_type,
    nullable,
    obj,
    open_object,
    string,
    string_map,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

# --------------------------------------------------------------------------------------------
# Salesforce (REST API)
# --------------------------------------------------------------------------------------------

_SOBJECT = string(
    "API name of the object type.",
    pattern="^[A-Za-z][A-Za-z0-9_]*$",
    examples=["Account", "Contact", "Opportunity", "Case", "Invoice__c"],
)
_SF_ID = string(
    "Salesforce record id (15 or 18 characters).", pattern="^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"
)
_SF_FIELDS = open_object("Field values by API name, e.g. `{Name: ACME, Industry: Retail}`.")

SF_CREATE = node_type(
    "salesforce.create_record",
    category=Category.INTEGRATION,
    summary="Create a Salesforce record",
    description="""
Creates a record of `object` with `fields` through the Salesforce REST API, as the user of the
`salesforce` credential (OAuth).

Output: `{id, url}`.
""",
    inputs={
        "object": _SOBJECT,
        "fields": _SF_FIELDS,
        "connection": connection("salesforce"),
    },
    required=["object", "fields"],
    output=obj(
        "The created record.",
        {"id": string("Id of the new record."), "url": uri("Link to the record in Salesforce.")},
        ["id", "url"],
    ),
    side_effects=True,
    credential="salesforce",
    example="""
- id: lead
  uses: salesforce.create_record
  with:
    object: Lead
    fields:
      LastName: ${{ inputs.last_name }}
      Company: ${{ inputs.company }}
      Email: ${{ inputs.email }}
      LeadSource: Web
""",
)

SF_UPDATE = node_type(
    "salesforce.update_record",
    category=Category.INTEGRATION,
    summary="Update (or upsert) a Salesforce record",
    description="""
Updates the record `id` of `object` with `fields`. To upsert instead, give `external_id_field`
and `external_id`: the record with that external id is updated, or created when none exists.

Output: `{id, created}`.
""",
    inputs={
        "object": _SOBJECT,
        "id": _SF_ID,
        "external_id_field": string("External-id field for an upsert, e.g. `ERP_Id__c`."),
        "external_id": string("Value of `external_id_field` identifying the record."),
        "fields": _SF_FIELDS,
        "connection": connection("salesforce"),
    },
    required=["object", "fields"],
    output=obj(
        "The updated record.",
        {
            "id": string("Id of the record."),
            "created": boolean("True when an upsert created the record."),
        },
        ["id", "created"],
    ),
    side_effects=True,
    credential="salesforce",
    example="""
- id: close_won
  uses: salesforce.update_record
  with:
    object: Opportunity
    id: ${{ inputs.opportunity_id }}
    fields: { StageName: Closed Won }
""",
)

SF_QUERY = node_type(
    "salesforce.query",
    category=Category.INTEGRATION,
    summary="Run a SOQL query",
    description="""
Runs a SOQL query and follows pagination up to `max_records`. Bind values with `:name`
placeholders and `params`; they are escaped for SOQL.

Output: `{records, total_size, done}` — `done` is false when `max_records` cut the result.
""",
    inputs={
        "soql": string(
            "The SOQL query.",
            minLength=1,
            examples=["SELECT Id, Name FROM Account WHERE Industry = :industry"],
        ),
        "params": open_object("Values for `:name` placeholders."),
        "include_deleted": boolean(
            "Include deleted and archived records (queryAll).", default=False
        ),
        "max_records": integer(
            "Stop after this many records.", minimum=1, maximum=50000, default=2000
        ),
        "connection": connection("salesforce"),
    },
    required=["soql"],
    output=obj(
        "The result.",
        {
            "records": array("Matching records (fields by API name).", {"type": "object"}),
            "total_size": integer("Total number of matching records.", minimum=0),
            "done": boolean("All matching records were returned."),
        },
        ["records", "total_size", "done"],
    ),
    credential="salesforce",
    example="""
- id: accounts
  uses: salesforce.query
  with:
    soql: SELECT Id, Name, AnnualRevenue FROM Account WHERE OwnerId = :owner
    params: { owner: "${{ inputs.owner_id }}" }
""",
)

# --------------------------------------------------------------------------------------------
# HubSpot (CRM v3 API)
# --------------------------------------------------------------------------------------------

_HS_PROPERTIES = string_map(
    "More HubSpot properties by internal name (custom properties included)."
)
_HS_RECORD = obj(
    "The HubSpot record.",
    {
        "id": string("Record id."),
        "properties": open_object("Its properties, as HubSpot returns them (strings)."),
        "created_at": date_time("Creation time."),
        "updated_at": date_time("Last update time."),
        "url": uri("Link to the record in HubSpot."),
    },
    ["id", "properties", "created_at", "updated_at", "url"],
)

HS_CREATE_CONTACT = node_type(
    "hubspot.create_contact",
    category=Category.INTEGRATION,
    summary="Create or update a HubSpot contact",
    description="""
Creates a contact. With `update_existing` (the default), a contact with the same email is
updated instead, so re-running a flow does not create duplicates.

Output: `{id, properties, created_at, updated_at, url, created}`.
""",
    inputs={
        "email": string("Email address (the contact's unique key).", format="email"),
        "firstname": string("First name."),
        "lastname": string("Last name."),
        "company": string("Company name."),
        "phone": string("Phone number."),
        "lifecyclestage": enum(
            "Lifecycle stage.",
            [
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "evangelist",
                "other",
            ],
        ),
        "owner_id": string("Id of the HubSpot owner."),
        "properties": _HS_PROPERTIES,
        "update_existing": boolean("Update the contact when the email exists.", default=True),
        "connection": connection("hubspot"),
    },
    required=["email"],
    output={
        **_HS_RECORD,
        "properties": {
            **_HS_RECORD["properties"],
            "created": boolean("True when a new contact was created."),
        },
        "required": [*_HS_RECORD["required"], "created"],
    },
    side_effects=True,
    credential="hubspot",
    example="""
- id: contact
  uses: hubspot.create_contact
  with:
    email: ${{ inputs.email }}
    firstname: ${{ inputs.first_name }}
    lifecyclestage: lead
    properties: { source_campaign: webinar-2025 }
""",
)

_DEAL_FIELDS = {
    "dealname": string("Deal name."),
    "amount": {"type": ["number", "string"], "description": "Deal amount."},
    "dealstage": string("Deal stage id of the pipeline, e.g. `closedwon`."),
    "pipeline": string("Pipeline id.", default="default"),
    "closedate": date_time("Expected close date."),
    "owner_id": string("Id of the HubSpot owner."),
    "properties": _HS_PROPERTIES,
}

HS_CREATE_DEAL = node_type(
    "hubspot.create_deal",
    category=Category.INTEGRATION,
    summary="Create a HubSpot deal",
    description="""
Creates a deal in `pipeline` and associates it with the given contacts and companies.

Output: `{id, properties, created_at, updated_at, url}`.
""",
    inputs={
        **_DEAL_FIELDS,
        "contact_ids": array("Contacts to associate.", {"type": "string"}),
        "company_ids": array("Companies to associate.", {"type": "string"}),
        "connection": connection("hubspot"),
    },
    required=["dealname", "dealstage"],
    output=_HS_RECORD,
    side_effects=True,
    credential="hubspot",
    example="""
- id: deal
  uses: hubspot.create_deal
  with:
    dealname: "ACME renewal"
    dealstage: appointmentscheduled
    amount: 12000
    contact_ids: ["${{ steps.contact.output.id }}"]
""",
)

HS_UPDATE_DEAL = node_type(
    "hubspot.update_deal",
    category=Category.INTEGRATION,
    summary="Update a HubSpot deal",
    description="""
Updates the deal `deal_id`: only the properties given change.

Output: `{id, properties, created_at, updated_at, url}`.
""",
    inputs={
        "deal_id": string("Id of the deal.", minLength=1),
        **_DEAL_FIELDS,
        "connection": connection("hubspot"),
    },
    required=["deal_id"],
    output=_HS_RECORD,
    side_effects=True,
    credential="hubspot",
    example="""
- id: won
  uses: hubspot.update_deal
  with:
    deal_id: ${{ inputs.deal_id }}
    dealstage: closedwon
    amount: ${{ steps.contract.output.total }}
""",
)

# --------------------------------------------------------------------------------------------
# Stripe
# --------------------------------------------------------------------------------------------

STRIPE_INVOICE = node_type(
    "stripe.create_invoice",
    category=Category.INTEGRATION,
    summary="Create (and optionally send) a Stripe invoice",
    description="""
Creates an invoice for `customer` with the given line `items`, then finalizes it and, with
`collection_method: send_invoice`, emails it to the customer (`send: true`). Amounts are in the
smallest currency unit (cents). An idempotency key per step attempt prevents double invoices on
retry.

Output: `{id, number, status, total, currency, hosted_invoice_url, invoice_pdf}`.
""",
    inputs={
        "customer": string("Stripe customer id.", pattern="^cus_[A-Za-z0-9]+$"),
        "currency": string(
            "Three-letter ISO currency code, lower case.", pattern="^[a-z]{3}$", default="usd"
        ),
        "items": array(
            "Invoice lines.",
            obj(
                "A line.",
                {
                    "description": string("Line description."),
                    "amount": integer("Unit amount in the smallest currency unit.", minimum=0),
                    "quantity": integer("Quantity.", minimum=1, default=1),
                    "price": string("A Stripe price id, instead of `amount`.", pattern="^price_"),
                    "tax_rates": array("Tax rate ids.", {"type": "string"}),
                },
            ),
            minItems=1,
        ),
        "collection_method": enum(
            "Charge the default payment method automatically, or email the invoice.",
            ["charge_automatically", "send_invoice"],
            default="send_invoice",
        ),
        "days_until_due": integer("Payment term for `send_invoice`.", minimum=0, default=30),
        "finalize": boolean("Finalize the draft (assigns a number).", default=True),
        "send": boolean("Email the finalized invoice to the customer.", default=True),
        "memo": string("Text shown on the invoice.", maxLength=500),
        "metadata": string_map("Stripe metadata (up to 50 keys)."),
        "connection": connection("stripe"),
    },
    required=["customer", "items"],
    output=obj(
        "The invoice.",
        {
            "id": string("Invoice id (`in_…`)."),
            "number": nullable(string("Invoice number (after finalizing).")),
            "status": enum("Invoice status.", ["draft", "open", "paid", "uncollectible", "void"]),
            "total": integer("Total in the smallest currency unit."),
            "currency": string("Currency code."),
            "hosted_invoice_url": nullable(uri("Payment page for the customer.")),
            "invoice_pdf": nullable(uri("PDF download link.")),
        },
        ["id", "number", "status", "total", "currency", "hosted_invoice_url", "invoice_pdf"],
    ),
    side_effects=True,
    credential="stripe",
    example="""
- id: invoice
  uses: stripe.create_invoice
  with:
    customer: ${{ inputs.stripe_customer }}
    currency: eur
    items:
      - { description: "Consulting, March", amount: 150000, quantity: 1 }
""",
)

NODE_TYPES: list[NodeType] = [
    SF_CREATE,
    SF_UPDATE,
    SF_QUERY,
    HS_CREATE_CONTACT,
    HS_CREATE_DEAL,
    HS_UPDATE_DEAL,
    STRIPE_INVOICE,
]
