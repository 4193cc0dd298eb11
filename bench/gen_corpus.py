#!/usr/bin/python3
"""Deterministic generator of field-sales Q&A threads for the streetwise benchmarks.

Writes N threads as JSON Lines in the `streetwise bulk-load` format (server/bulk_load.hpp):
  {title, body, tags, kind, account, region, product, needed_by?, answers: [str], accepted?: int}
and, with --queries, a fixed query set (one JSON object per line: {"q": str, "tags": [str], "type": str})
used by the search benchmark (HTTP and SQLite FTS5 replay the same queries).

Streams (constant memory) and is seeded: the same --seed and N always give the same bytes.

  bench/gen_corpus.py --n 100000 --out corpus.jsonl --queries queries.jsonl [--seed 42]
"""
import argparse
import datetime
import json
import math
import random
import sys
import time

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

PRODUCTS = [
    "DataHub Enterprise", "DataHub Cloud", "RouteWise", "FleetTrack", "PayFlow", "PriceBook",
    "Insight Analytics", "FieldSync Mobile", "OrderDesk", "StockPilot", "ContractVault", "IdentityGate",
    "ConnectBridge", "SupportDesk Pro", "Forecast360", "WarehouseOS",
]
REGIONS = ["EMEA", "APAC", "AMER", "LATAM", "NA", "DACH", "Nordics", "UKI", "ANZ", "Japan", "Benelux", "MEA"]
REGION_W = [20, 14, 18, 6, 12, 8, 4, 6, 4, 3, 3, 2]

# ~200 tags: (tag, relative weight). Heavier tags are the everyday topics of a sales team.
_TAG_GROUPS = {
    # databases / platforms
    "db": ["oracle", "oracle-19c", "oracle-21c", "oracle-rac", "postgres", "postgres-15", "sql-server",
           "sql-server-2019", "mysql", "mariadb", "mongodb", "db2", "snowflake", "redshift", "bigquery",
           "databricks", "teradata", "sap-hana", "cassandra", "redis", "elasticsearch", "kafka",
           "data-migration", "replication", "backup", "disaster-recovery", "high-availability", "sharding"],
    # cloud / infra / tech
    "tech": ["aws", "azure", "gcp", "on-prem", "hybrid-cloud", "kubernetes", "docker", "openshift", "vmware",
             "terraform", "linux", "windows-server", "rest-api", "graphql", "webhooks", "sdk", "api-limits",
             "rate-limiting", "latency", "performance", "scalability", "mobile-app", "ios", "android",
             "offline-mode", "browser-support", "csv-import", "excel-export", "etl", "batch-jobs",
             "encryption", "tls", "vpn", "ip-allowlist", "private-link", "multi-tenant", "sandbox",
             "release-notes", "beta", "deprecation", "upgrade", "versioning", "logging", "monitoring",
             "audit-log", "reporting", "dashboards", "bi", "machine-learning", "forecasting"],
    # identity / security / compliance
    "sec": ["sso", "saml", "oidc", "oauth2", "okta", "azure-ad", "entra-id", "ldap", "scim", "mfa", "rbac",
            "gdpr", "ccpa", "hipaa", "soc2", "iso-27001", "pci-dss", "fedramp", "dora", "nis2",
            "data-residency", "dpa", "sub-processors", "pen-test", "vulnerability", "security-questionnaire",
            "retention", "right-to-erasure", "schrems-ii", "eu-data-boundary"],
    # integrations
    "int": ["salesforce", "sap", "sap-s4hana", "dynamics-365", "netsuite", "hubspot", "servicenow",
            "workday", "zendesk", "jira", "slack", "teams", "outlook", "gmail", "shopify", "magento",
            "edi", "sftp", "zapier", "mulesoft", "boomi", "tableau", "power-bi", "looker", "docusign",
            "stripe", "adyen", "quickbooks", "xero", "marketo"],
    # commercial
    "com": ["pricing", "discount", "volume-discount", "multi-year", "price-increase", "list-price",
            "quote", "cpq", "renewal", "upsell", "cross-sell", "churn-risk", "competitor", "rfp", "rfi",
            "procurement", "legal", "msa", "contract-terms", "payment-terms", "invoicing", "currency",
            "tax", "vat", "purchase-order", "trial", "poc", "pilot", "reference-customer", "case-study",
            "roi", "tco", "budget", "enterprise-agreement", "partner", "reseller", "marketplace",
            "aws-marketplace", "licensing", "named-users", "concurrent-users", "usage-based"],
    # delivery / logistics / service
    "ops": ["delivery", "shipping", "lead-time", "logistics", "warehouse", "inventory", "backorder",
            "returns", "customs", "freight", "last-mile", "route-planning", "tracking", "installation",
            "onboarding", "implementation", "training", "professional-services", "support", "sla",
            "uptime", "incident", "escalation", "outage", "maintenance-window", "response-time",
            "customer-success", "localization", "translation", "accessibility"],
}
_GROUP_W = {"db": 1.4, "tech": 1.0, "sec": 1.3, "int": 1.1, "com": 1.5, "ops": 1.2}
TAGS = []
TAG_W = []
for g, tags in _TAG_GROUPS.items():
    for i, t in enumerate(tags):
        TAGS.append((g, t))
        TAG_W.append(_GROUP_W[g] / (1 + i) ** 0.6)  # Zipf-like within each group
TAG_CUM = []
_acc = 0.0
for w in TAG_W:
    _acc += w
    TAG_CUM.append(_acc)
TAGS_BY_GROUP = {g: [t for (gg, t) in TAGS if gg == g] for g in _TAG_GROUPS}
_STACK = set(TAGS_BY_GROUP["db"][:20] + TAGS_BY_GROUP["int"] + TAGS_BY_GROUP["tech"][:13])

# Human phrasing for some tags (used in titles/bodies so text and tags agree).
TAG_TEXT = {
    "oracle": "Oracle", "oracle-19c": "Oracle 19c", "oracle-21c": "Oracle 21c", "oracle-rac": "Oracle RAC",
    "postgres": "Postgres", "postgres-15": "PostgreSQL 15", "sql-server": "SQL Server",
    "sql-server-2019": "SQL Server 2019", "mysql": "MySQL", "mariadb": "MariaDB", "mongodb": "MongoDB",
    "db2": "Db2", "snowflake": "Snowflake", "redshift": "Redshift", "bigquery": "BigQuery",
    "databricks": "Databricks", "teradata": "Teradata", "sap-hana": "SAP HANA", "sso": "SSO", "saml": "SAML",
    "oidc": "OpenID Connect", "oauth2": "OAuth 2.0", "okta": "Okta", "azure-ad": "Azure AD",
    "entra-id": "Entra ID", "ldap": "LDAP", "scim": "SCIM provisioning", "mfa": "MFA", "rbac": "role-based access",
    "gdpr": "GDPR", "ccpa": "CCPA", "hipaa": "HIPAA", "soc2": "SOC 2", "iso-27001": "ISO 27001",
    "pci-dss": "PCI DSS", "fedramp": "FedRAMP", "dora": "DORA", "nis2": "NIS2", "data-residency": "data residency",
    "dpa": "DPA", "salesforce": "Salesforce", "sap": "SAP", "sap-s4hana": "SAP S/4HANA",
    "dynamics-365": "Dynamics 365", "netsuite": "NetSuite", "hubspot": "HubSpot", "servicenow": "ServiceNow",
    "workday": "Workday", "zendesk": "Zendesk", "jira": "Jira", "slack": "Slack", "teams": "Microsoft Teams",
    "edi": "EDI", "sftp": "SFTP", "power-bi": "Power BI", "aws": "AWS", "azure": "Azure", "gcp": "GCP",
    "kubernetes": "Kubernetes", "rest-api": "REST API", "graphql": "GraphQL", "sla": "SLA", "cpq": "CPQ",
    "rfp": "RFP", "rfi": "RFI", "msa": "MSA", "vat": "VAT", "poc": "proof of concept", "roi": "ROI",
    "tco": "TCO", "ip-allowlist": "IP allowlist", "tls": "TLS 1.3", "vpn": "VPN",
}


def tag_text(t):
    return TAG_TEXT.get(t) or t.replace("-", " ")


ACCOUNT_A = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Soylent",
             "Tyrell", "Cyberdyne", "Nakatomi", "Oscorp", "Gringotts", "Monarch", "Aperture", "Massive", "Pied Piper",
             "Dunder", "Bluth", "Sterling", "Prestige", "Contoso", "Fabrikam", "Northwind", "Tailspin", "Litware",
             "Adventure Works", "Proseware", "Alpine", "Baltic", "Cascade", "Delta", "Everest", "Fjord", "Granite",
             "Harbor", "Iberia", "Jadeite", "Keystone", "Lumen", "Meridian", "Nordic", "Orion", "Pacific", "Quantum",
             "Redwood", "Summit", "Titan", "Unity", "Vertex", "Westfield", "Yukon", "Zenith", "Atlas", "Beacon"]
ACCOUNT_B = ["Logistics", "Retail", "Foods", "Pharma", "Bank", "Insurance", "Motors", "Energy", "Telecom", "Health",
             "Airlines", "Freight", "Manufacturing", "Media", "Holdings", "Group", "AG", "GmbH", "SA", "Ltd",
             "Industries", "Systems", "Distribution", "Supply", "Chemicals", "Utilities", "Hospitality", "Mining"]

KINDS = ["question", "feature_request", "complaint", "tip"]
KIND_W = [60, 15, 12, 13]

COMPETITORS = ["Oracle Cloud", "SAP Ariba", "Zoho", "Freshworks", "Pipedrive", "Odoo", "Infor", "Epicor",
               "Manhattan Associates", "Blue Yonder", "Descartes", "Coupa"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "AUD", "CHF", "SEK", "BRL"]
ROLES = ["CIO", "CISO", "procurement lead", "IT director", "head of logistics", "CFO", "DBA team",
         "security architect", "VP of sales ops", "data protection officer", "enterprise architect"]
FEATURES = ["bulk export", "audit trail", "custom fields", "approval workflow", "offline sync", "SSO enforcement",
            "field-level encryption", "multi-currency quotes", "delivery slot booking", "proof of delivery",
            "EU-only hosting", "read replicas", "webhook retries", "dark mode", "scheduled reports",
            "granular permissions", "sandbox refresh", "API pagination", "customer portal", "barcode scanning"]

TITLE_T = {
    "question": [
        "Does {product} support {t0} for {feature}?",
        "Customer asking about {t0} with {product} - any references?",
        "{account} wants {t0} and {t1} before signing: what can we commit to?",
        "How do we answer the {t0} section of the {account} RFP?",
        "Is {t0} certified on {product} for {region} customers?",
        "{product}: maximum supported {s0} version?",
        "What discount can we offer {account} on a {years}-year {product} deal?",
        "Typical lead time for {product} delivery in {region}?",
        "Can {product} connect to {s0} out of the box?",
        "{t0} question from {account} ({region})",
        "Who handles {t0} questions for {product} in {region}?",
        "Is there a standard answer for {t0} on the security questionnaire?",
    ],
    "feature_request": [
        "Feature request: {feature} in {product}",
        "{account} needs {feature} with {t0} to close the deal",
        "Please add {t0} support to {product}",
        "Request: {feature} for {region} customers",
        "{product} should integrate with {s0}",
    ],
    "complaint": [
        "{account} unhappy about {t0} in {product}",
        "Escalation: {product} {t0} problems at {account}",
        "Delivery delays in {region} hurting the {account} renewal",
        "{account} complains that {product} pricing went up {pct}%",
        "{t0} outage affected {account} for {hours} hours",
    ],
    "tip": [
        "Tip: how we won {account} against {competitor}",
        "Tip: answering {t0} objections quickly",
        "Tip: position {product} with {t0} for {region} deals",
        "Tip: use the {t0} case study when {role} asks about it",
        "Tip: getting {feature} approved without a custom build",
    ],
}

SENTENCES = [
    "The {role} at {account} asked whether {product} runs on {s0} and what versions we certify.",
    "They are currently on {s0} and plan to move to {s1} next year, so they need a migration story.",
    "Deal size is around {amount} {currency} over {years} years; procurement wants an answer by the end of the quarter.",
    "{competitor} already offered a {pct}% discount and free onboarding.",
    "They asked for our {t0} documentation and a signed DPA before the security review.",
    "Their data must stay in the {region} region because of GDPR and internal data residency rules.",
    "We need a written SLA with {uptime}% uptime and a response time of {hours} hours for priority-one incidents.",
    "Delivery to their warehouses in {region} has to happen within {days} days of the purchase order.",
    "Their IT team uses {t0} for single sign-on and wants SAML with just-in-time provisioning.",
    "The integration with {s0} needs to sync orders, invoices and customer records every {mins} minutes.",
    "Is there a reference customer in {region} using {product} with {t0} at a similar scale?",
    "Last time we quoted list price and lost to {competitor}, so I want to get pricing right this time.",
    "They run {s0} on-prem and cannot open inbound ports, only outbound HTTPS through a proxy.",
    "Legal flagged the liability cap and the payment terms (net {days}) in our MSA.",
    "The pilot with {users} named users went well; now they want a volume discount for {users2} users.",
    "Their {role} is worried about latency from the {region} data centre during peak season.",
    "Can we support {feature}? It came up three times in the last workshop.",
    "They want invoices in {currency} with VAT shown per line and a purchase order number on each invoice.",
    "Shipping to remote sites has been slow and the customer asked for tracking updates and proof of delivery.",
    "The security questionnaire asks about encryption at rest, key rotation, pen-test reports and SOC 2 Type II.",
    "They currently export CSV files nightly and load them into {s0}; we should replace that with the REST API.",
    "Renewal is in {days} days and churn risk is high unless we fix the {t0} issues.",
    "Support tickets about {t0} have been open for weeks and the account manager escalated it.",
    "Please share any battle cards for {competitor}; their rep is pushing a cheaper bundle.",
    "The customer wants a proof of concept on {s1} before committing to the enterprise agreement.",
]

ANSWER_T = [
    "Yes, {product} supports {t0}. Engineering certified it last release; the compatibility matrix is in the sales wiki.",
    "We did this for {account2} in {region}. Talk to their account manager, they are happy to be a reference.",
    "For discounts above {pct}% you need deal desk approval. Multi-year commitments usually get it within two days.",
    "Standard lead time in {region} is {days} business days; expedited delivery is possible for an extra fee.",
    "Our SLA is {uptime}% monthly uptime with service credits. Premium support gets a {hours}-hour response time.",
    "Data for {region} customers is hosted in-region. Send them the DPA, the sub-processor list and the GDPR whitepaper.",
    "SAML 2.0 works with Okta, Azure AD / Entra ID and any compliant IdP; SCIM provisioning is in the Enterprise tier.",
    "The {s0} connector is certified; it syncs accounts, orders and invoices. Setup takes about a day with professional services.",
    "Not supported today. It is on the roadmap for next half; log a feature request and link the opportunity.",
    "Use the standard security questionnaire answers in the trust portal, they cover encryption, pen tests and SOC 2.",
    "Position the total cost of ownership: {competitor} charges separately for integrations and support.",
    "We migrated a customer from {s0} to {s1} last quarter; the runbook is attached to the implementation guide.",
    "Ask product management, they want customer evidence for {feature}. A short write-up with deal value helps.",
    "Check the pricing calculator: named users above {users} get tiered pricing automatically.",
]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        r = self.r
        accounts = set()
        while len(accounts) < 1500:
            accounts.add(f"{r.choice(ACCOUNT_A)} {r.choice(ACCOUNT_B)}")
        self.accounts = sorted(accounts)
        self.acc_cum = []
        acc = 0.0
        for i in range(len(self.accounts)):
            acc += 1.0 / (1 + i) ** 0.8
            self.acc_cum.append(acc)
        self.region_cum = _cum(REGION_W)
        self.kind_cum = _cum(KIND_W)

    def tags(self, n):
        r = self.r
        out = []
        picks = r.choices(TAGS, cum_weights=TAG_CUM, k=n * 2)
        for g, t in picks:
            if t not in out:
                out.append(t)
            if len(out) == n:
                break
        if not out:
            out.append("pricing")
        return out

    def slots(self, tags):
        r = self.r
        t0 = tags[0]
        t1 = tags[1] if len(tags) > 1 else r.choice(TAGS_BY_GROUP[r.choice(list(TAGS_BY_GROUP))])
        # platforms for the "they run X / migrate to Y" sentences: the thread's own tech tags if any
        stack = [t for t in tags if t in _STACK] or [r.choice(TAGS_BY_GROUP["db"][:12])]
        s0 = stack[0]
        s1 = stack[1] if len(stack) > 1 else r.choice(TAGS_BY_GROUP[r.choice(("db", "int"))][:12])
        return {
            "s0": tag_text(s0), "s1": tag_text(s1),
            "product": r.choice(PRODUCTS),
            "t0": tag_text(t0), "t1": tag_text(t1),
            "account": r.choices(self.accounts, cum_weights=self.acc_cum)[0],
            "account2": r.choice(self.accounts),
            "region": r.choices(REGIONS, cum_weights=self.region_cum)[0],
            "feature": r.choice(FEATURES), "competitor": r.choice(COMPETITORS), "role": r.choice(ROLES),
            "currency": r.choice(CURRENCIES), "years": r.randint(1, 5), "pct": r.choice([5, 8, 10, 12, 15, 20, 25, 30]),
            "amount": f"{r.randint(20, 4000) * 1000:,}", "uptime": r.choice(["99.5", "99.9", "99.95", "99.99"]),
            "hours": r.choice([1, 2, 4, 8, 24]), "days": r.choice([3, 5, 10, 14, 30, 45, 60, 90]),
            "mins": r.choice([5, 15, 30, 60]), "users": r.choice([25, 50, 100, 250]),
            "users2": r.choice([500, 1000, 2500, 5000, 20000]),
        }

    def thread(self, i):
        r = self.r
        kind = r.choices(KINDS, cum_weights=self.kind_cum)[0]
        tags = self.tags(r.choices((1, 2, 3, 4), weights=(25, 35, 25, 15))[0])
        s = self.slots(tags)
        title = r.choice(TITLE_T[kind]).format(**s)
        title = title[0].upper() + title[1:]
        body_sents = [x.format(**s) for x in r.sample(SENTENCES, r.randint(2, 6))]
        paras = []
        while body_sents:
            k = r.randint(1, 3)
            paras.append(" ".join(body_sents[:k]))
            body_sents = body_sents[k:]
        body = "\n\n".join(paras)
        if r.random() < 0.1:
            body += "\n\n- current stack: " + s["s0"] + "\n- target: " + s["s1"] + "\n- deadline: end of Q" + str(r.randint(1, 4))
        obj = {"title": title, "body": body, "tags": tags, "kind": kind, "account": s["account"],
               "region": s["region"], "product": s["product"]}
        if r.random() < 0.3:
            obj["needed_by"] = f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        n_ans = r.choices((0, 1, 2, 3), weights=(30, 35, 22, 13))[0] if kind != "tip" else r.choices((0, 1), weights=(70, 30))[0]
        if n_ans:
            answers = []
            for _ in range(n_ans):
                s2 = self.slots(tags)
                answers.append(" ".join(x.format(**s2) for x in r.sample(ANSWER_T, r.randint(1, 2))))
            obj["answers"] = answers
            if kind in ("question", "feature_request") and r.random() < 0.45:
                obj["accepted"] = r.randrange(n_ans)
        return obj


def export_records(g, n, days, end, seed):
    """The corpus as a `streetwise import` file (export format v1) with timestamps: threads spread
    uniformly over `days` days before `end`, first answers after a log-normal delay (median 3 h),
    acceptance a log-normal delay (median 1 day) after the last answer. For the insights benchmark."""
    r = random.Random(seed * 31 + 7)
    fmt = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    start = end - days * 86400
    experts = [f"u-bench-expert-{i}" for i in range(40)]
    members = [f"u-bench-member-{i}" for i in range(300)]
    yield {"type": "streetwise-export", "version": 1, "org": {"id": "o-bench", "name": "Bench Co"}}
    yield {"type": "user", "id": "u-bench-admin", "name": "Bench Admin", "role": "admin", "created_at": fmt(start)}
    yield {"type": "user", "id": "u-bench-analyst", "name": "Bench Analyst", "role": "analyst", "created_at": fmt(start)}
    for u in experts:
        yield {"type": "user", "id": u, "name": u, "role": "expert", "created_at": fmt(start)}
    for u in members:
        yield {"type": "user", "id": u, "name": u, "role": "member", "created_at": fmt(start)}
    for i in range(n):
        t = g.thread(i)
        created = start + r.random() * days * 86400
        author = r.choice(members)
        line = {"type": "thread", "id": f"t-bench-{i}", "title": t["title"], "body": t["body"], "tags": t["tags"],
                "kind": t["kind"], "author_id": author, "account": t["account"], "region": t["region"],
                "product": t["product"], "created_at": fmt(created), "updated_at": fmt(created), "version": 1,
                "revision": 1, "answers": [], "comments": [],
                "revisions": [{"revision": 1, "title": t["title"], "body": t["body"], "tags": t["tags"],
                               "editor_id": author, "created_at": fmt(created)}]}
        at = created
        for k, body in enumerate(t.get("answers", [])):
            at += min(r.lognormvariate(math.log(10800), 1.3), 60 * 86400)
            line["answers"].append({"id": f"a-bench-{i}-{k}", "body": body, "author_id": r.choice(experts),
                                    "created_at": fmt(at), "score": 0, "votes": []})
        if "accepted" in t:
            line["accepted_answer_id"] = line["answers"][t["accepted"]]["id"]
            line["accepted_at"] = fmt(at + r.lognormvariate(math.log(86400), 1.0))
        line["status"] = "resolved" if "accepted" in t else ("answered" if line["answers"] else "open")
        yield line
    yield {"type": "end", "users": 2 + len(experts) + len(members), "threads": n}


def _cum(ws):
    out, acc = [], 0.0
    for w in ws:
        acc += w
        out.append(acc)
    return out


def gen_queries(seed, n):
    """A fixed mix of query shapes; tags only from the vocabulary above."""
    r = random.Random(seed * 7919 + 1)
    single = ["oracle", "postgres", "gdpr", "discount", "delivery", "saml", "salesforce", "sap", "sla", "latency",
              "pricing", "renewal", "invoices", "okta", "kubernetes", "migration", "warehouse", "uptime", "escalation",
              "procurement", "encryption", "competitor", "onboarding", "webhooks", "snowflake", "residency",
              "questionnaire", "shipping", "reference", "roadmap", "netsuite", "hipaa", "scim", "tracking", "vat",
              "outage", "pilot", "liability", "currency", "provisioning"]
    two = ["oracle 19c", "sql server", "saml okta", "gdpr residency", "volume discount", "delivery lead",
           "salesforce integration", "sap connector", "sla uptime", "security questionnaire", "azure ad",
           "multi year", "proof delivery", "renewal churn", "pricing competitor", "postgres migration",
           "invoice currency", "api rate", "sso enforcement", "reference customer", "payment terms",
           "data centre", "soc type", "tracking updates", "discount approval", "audit trail", "offline sync",
           "purchase order", "key rotation", "hubspot sync"]
    phrases = ['"data residency"', '"volume discount"', '"single sign-on"', '"lead time"', '"proof of concept"',
               '"security questionnaire"', '"Oracle 19c"', '"SQL Server 2019"', '"service credits"',
               '"deal desk"', '"named users"', '"payment terms"', '"reference customer"', '"enterprise agreement"',
               '"professional services"', '"just-in-time provisioning"', '"encryption at rest"',
               '"end of the quarter"', '"liability cap"', '"total cost of ownership"']
    rare = ["teradata replication", "fedramp", "schrems", "magento", "boomi", "dora nis2", "xero invoices",
            "accessibility", "cassandra", "barcode scanning"]
    out = []
    # 60 single, 50 two-word, 30 phrase, 10 rare, 50 with tag filters (mixed shapes)
    for i in range(60):
        out.append({"q": single[i % len(single)] if i < len(single) else r.choice(single), "tags": [], "type": "single"})
    for i in range(50):
        out.append({"q": two[i % len(two)] if i < len(two) else r.choice(two), "tags": [], "type": "two-word"})
    for i in range(30):
        out.append({"q": phrases[i % len(phrases)] if i < len(phrases) else r.choice(phrases), "tags": [], "type": "phrase"})
    for q in rare:
        out.append({"q": q, "tags": [], "type": "rare"})
    popular = [t for (g, t) in TAGS if TAG_W[TAGS.index((g, t))] > 0.5]
    for i in range(50):
        shape = i % 3
        q = [r.choice(single), r.choice(two), r.choice(phrases)][shape]
        ntag = 1 if i % 5 else 2
        out.append({"q": q, "tags": r.sample(popular, ntag), "type": "tag-filter"})
    r.shuffle(out)
    return out[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="-", help="JSONL output ('-' = stdout)")
    ap.add_argument("--queries", help="also write the fixed query set (JSONL) here")
    ap.add_argument("--nqueries", type=int, default=200)
    ap.add_argument("--export-days", type=int, default=0,
                    help="write a `streetwise import` file with threads spread over this many days (insights bench)")
    a = ap.parse_args()
    if a.queries:
        with open(a.queries, "w") as f:
            for q in gen_queries(a.seed, a.nqueries):
                f.write(json.dumps(q) + "\n")
    out = sys.stdout if a.out == "-" else open(a.out, "w", buffering=1 << 20)
    g = Gen(a.seed)
    enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    t0 = time.time()
    buf = []
    end = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc).timestamp()
    records = export_records(g, a.n, a.export_days, end, a.seed) if a.export_days else (g.thread(i) for i in range(a.n))
    for rec in records:
        buf.append(enc(rec))
        if len(buf) == 5000:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")
    if out is not sys.stdout:
        out.close()
    dt = time.time() - t0
    print(f"gen_corpus: {a.n} threads in {dt:.1f} s ({a.n / dt if dt else 0:.0f}/s), seed {a.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
