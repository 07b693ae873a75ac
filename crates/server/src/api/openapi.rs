//! The OpenAPI 3.1 document of the relay's own JSON API (`/api/v1/`), served at
//! `/api/v1/openapi.json`. It is built from the table below; a test regenerates it, diffs it
//! with `docs/openapi.json`, and calls every documented operation on a live server, so that the
//! document and the routes cannot drift apart.

use serde_json::{Map, Value, json};

/// One documented operation.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    /// The request body's schema, by component name.
    request: Option<&'static str>,
    /// The success status and its schema (`None`: no body).
    status: u16,
    response: Option<Value>,
    /// Query parameters: name, description.
    query: &'static [(&'static str, &'static str)],
    /// The request's media types, each with whether it carries the `request` schema (else a
    /// plain string); empty: JSON only.
    request_media: &'static [(&'static str, bool)],
    /// A success body that is not JSON: its description and media types (a plain string).
    text: Option<(&'static str, &'static [&'static str])>,
    /// Whether If-None-Match can answer 304.
    not_modified: bool,
}

const PLAIN: &[&str] = &["text/plain"];
const STIX: &str = "application/stix+json;version=2.1";

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn list(name: &str) -> Value {
    json!({"type": "array", "items": r(name)})
}

fn ops() -> Vec<Op> {
    let op = |method, path, tag, summary, request, status, response| Op {
        method,
        path,
        tag,
        summary,
        request,
        status,
        response,
        query: &[],
        request_media: &[],
        text: None,
        not_modified: false,
    };
    vec![
        op(
            "get",
            "/api/v1/me",
            "account",
            "Who the caller is: user, organisation, role.",
            None,
            200,
            Some(r("Me")),
        ),
        op(
            "get",
            "/api/v1/directory",
            "organisations",
            "Every organisation's name, sector, country and STIX identity id, for naming TLP:RED recipients.",
            None,
            200,
            Some(list("DirectoryEntry")),
        ),
        op(
            "get",
            "/api/v1/orgs",
            "organisations",
            "Organisations in full: all for the ISAC administrator, one's own for others.",
            None,
            200,
            Some(list("Org")),
        ),
        op(
            "post",
            "/api/v1/orgs",
            "organisations",
            "Register an organisation (ISAC administrator).",
            Some("NewOrg"),
            201,
            Some(r("Org")),
        ),
        op(
            "get",
            "/api/v1/orgs/{name}",
            "organisations",
            "One organisation, with its STIX identity object.",
            None,
            200,
            Some(r("Org")),
        ),
        op(
            "patch",
            "/api/v1/orgs/{name}",
            "organisations",
            "Change an organisation's anonymity or contacts (ISAC administrator, or the organisation's administrator).",
            Some("OrgPatch"),
            200,
            Some(r("Org")),
        ),
        op(
            "get",
            "/api/v1/users",
            "users",
            "Users the caller manages (itself at least).",
            None,
            200,
            Some(list("User")),
        ),
        op(
            "post",
            "/api/v1/users",
            "users",
            "Add a user to an organisation.",
            Some("NewUser"),
            201,
            Some(r("User")),
        ),
        op(
            "put",
            "/api/v1/users/{name}/password",
            "users",
            "Set a user's password (argon2id-hashed).",
            Some("Password"),
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/tokens",
            "tokens",
            "API tokens the caller manages; never their secrets.",
            None,
            200,
            Some(list("Token")),
        ),
        op(
            "post",
            "/api/v1/tokens",
            "tokens",
            "Issue an API token; the secret is in this answer only.",
            Some("NewToken"),
            201,
            Some(r("CreatedToken")),
        ),
        op(
            "delete",
            "/api/v1/tokens/{id}",
            "tokens",
            "Revoke a token at once.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/groups",
            "trust groups",
            "Trust groups: all for the ISAC administrator, one's own organisation's for others.",
            None,
            200,
            Some(list("Group")),
        ),
        op(
            "post",
            "/api/v1/groups",
            "trust groups",
            "Create a trust group (ISAC administrator).",
            Some("NewGroup"),
            201,
            Some(r("Group")),
        ),
        op(
            "put",
            "/api/v1/groups/{group}/members/{org}",
            "trust groups",
            "Add an organisation to a trust group.",
            None,
            204,
            None,
        ),
        op(
            "delete",
            "/api/v1/groups/{group}/members/{org}",
            "trust groups",
            "Remove an organisation from a trust group.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/feeds",
            "feeds",
            "Feeds with their default TLP and grants (ISAC administrator).",
            None,
            200,
            Some(list("Feed")),
        ),
        op(
            "post",
            "/api/v1/feeds",
            "feeds",
            "Create a feed (a TAXII collection).",
            Some("NewFeed"),
            201,
            Some(r("Feed")),
        ),
        op(
            "patch",
            "/api/v1/feeds/{feed}",
            "feeds",
            "Change a feed's description, default TLP, severity, volume or inbox flag; retire it (retired: true) or bring it back.",
            Some("FeedPatch"),
            200,
            Some(r("Feed")),
        ),
        Op {
            text: Some(("An event stream that stays open.", &["text/event-stream"])),
            ..op(
                "get",
                "/api/v1/feeds/{feed}/events",
                "push",
                "Server-Sent Events: the feed's new and changed objects as they are committed (Default: every feed the caller reads), through the caller's profile. Each event is 'object' with id (send it back as Last-Event-ID to resume) and data {feed, date_added, object}.",
                None,
                200,
                None,
            )
        },
        op(
            "get",
            "/api/v1/routing-rules",
            "routing",
            "Routing rules of posts to Default and other inboxes, in the order they are tried (after the title convention 'FEED: ...' / '[FEED] ...').",
            None,
            200,
            Some(list("RoutingRule")),
        ),
        op(
            "post",
            "/api/v1/routing-rules",
            "routing",
            "Add a routing rule (ISAC administrator).",
            Some("NewRoutingRule"),
            201,
            Some(r("RoutingRule")),
        ),
        op(
            "delete",
            "/api/v1/routing-rules/{id}",
            "routing",
            "Remove a routing rule (ISAC administrator).",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/orgs/{name}/profile",
            "profiles",
            "An organisation's consumer profile (ISAC administrator, or the organisation's administrator).",
            None,
            200,
            Some(r("Profile")),
        ),
        op(
            "put",
            "/api/v1/orgs/{name}/profile",
            "profiles",
            "Set an organisation's consumer profile.",
            Some("Profile"),
            200,
            Some(r("Profile")),
        ),
        op(
            "delete",
            "/api/v1/orgs/{name}/profile",
            "profiles",
            "Remove an organisation's consumer profile.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/tokens/{id}/profile",
            "profiles",
            "A token's consumer profile (it replaces the organisation's).",
            None,
            200,
            Some(r("Profile")),
        ),
        op(
            "put",
            "/api/v1/tokens/{id}/profile",
            "profiles",
            "Set a token's consumer profile.",
            Some("Profile"),
            200,
            Some(r("Profile")),
        ),
        op(
            "delete",
            "/api/v1/tokens/{id}/profile",
            "profiles",
            "Remove a token's consumer profile.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/federation/peers",
            "federation",
            "Federation peers and where each stands: cursor, last run, last success, last error, objects moved (ISAC administrator). Credentials are never shown, only their kind.",
            None,
            200,
            Some(r("Peers")),
        ),
        op(
            "post",
            "/api/v1/federation/peers",
            "federation",
            "Add a peer (ISAC administrator): a remote TAXII 2.1 collection pulled into one local feed, or local feeds pushed to it (CLEAR and GREEN by default, never above AMBER, never the NOTICE feed).",
            Some("NewPeer"),
            201,
            Some(r("Peer")),
        ),
        op(
            "delete",
            "/api/v1/federation/peers/{name}",
            "federation",
            "Remove a peer.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/webhooks",
            "push",
            "The webhooks of the caller's organisation (all, for the ISAC administrator).",
            None,
            200,
            Some(list("Webhook")),
        ),
        op(
            "post",
            "/api/v1/webhooks",
            "push",
            "Register a webhook (organisation administrator): deliveries of a feed to an HTTPS or loopback URL, signed with HMAC-SHA256 (X-ISAC-Signature: sha256=HEX over '<X-ISAC-Timestamp>.<body>'), retried with exponential backoff. The secret is shown once.",
            Some("NewWebhook"),
            201,
            Some(r("CreatedWebhook")),
        ),
        op(
            "delete",
            "/api/v1/webhooks/{id}",
            "push",
            "Stop a webhook; its delivery log stays.",
            None,
            204,
            None,
        ),
        Op {
            query: &[("limit", "Attempts at most (default 100).")],
            ..op(
                "get",
                "/api/v1/webhooks/{id}/deliveries",
                "push",
                "A webhook's delivery attempts, newest first.",
                None,
                200,
                Some(list("Delivery")),
            )
        },
        Op {
            query: &[("q", "The observable value to look up.")],
            ..op(
                "get",
                "/api/v1/reporters",
                "search",
                "Which organisations reported an observable (ISAC administrator only).",
                None,
                200,
                Some(list("Reporters")),
            )
        },
        op(
            "put",
            "/api/v1/feeds/{feed}/grants/{kind}/{name}",
            "feeds",
            "Set the rights of an organisation (kind 'org') or a trust group (kind 'group') on a feed.",
            Some("GrantRights"),
            200,
            Some(r("Feed")),
        ),
        op(
            "delete",
            "/api/v1/feeds/{feed}/grants/{kind}/{name}",
            "feeds",
            "Take a grantee's rights on a feed away.",
            None,
            200,
            Some(r("Feed")),
        ),
        Op {
            query: &[
                ("since", "Entries at or after this RFC 3339 time."),
                (
                    "action",
                    "Only this action, or an area ending with '.' (auth.).",
                ),
                (
                    "after",
                    "Entries after this sequence number (paging; see the Link header).",
                ),
                ("limit", "Entries per page, at most 10000 (default 1000)."),
            ],
            text: Some(("One JSON object per line.", &["application/x-ndjson"])),
            ..op(
                "get",
                "/api/v1/audit",
                "audit",
                "The audit log as JSON lines, oldest first (ISAC administrator).",
                None,
                200,
                None,
            )
        },
        Op {
            query: &[
                (
                    "q",
                    "The value to look up: an address, network, domain, URL, e-mail address, hash, port or AS.",
                ),
                ("limit", "Hits at most."),
                (
                    "sort",
                    "newest (default) or corroboration: most organisations first.",
                ),
            ],
            ..op(
                "get",
                "/api/v1/search",
                "search",
                "Current objects, in the feeds and at the TLP the caller may read, that mention a value.",
                None,
                200,
                Some(r("SearchResult")),
            )
        },
        Op {
            query: EXPORT_PARAMS,
            text: Some((
                "The list, streamed; text/plain for all but csv and stix.",
                &["text/plain", "text/csv", STIX],
            )),
            not_modified: true,
            ..op(
                "get",
                "/api/v1/exports/{format}",
                "exports",
                "A block list in one format (ip, domain, url, hash, rpz, suricata, nftables, ipset, csv, stix), \
                 from the feeds, at the TLP and through the consumer profile the caller may read. \
                 Strong ETag (If-None-Match answers 304); X-Export-Token names this export for a later since=.",
                None,
                200,
                None,
            )
        },
        Op {
            query: EXPORT_PARAMS,
            ..op(
                "get",
                "/api/v1/exports/{format}/dropped",
                "exports",
                "What the warning lists kept out of that export, and why.",
                None,
                200,
                Some(r("Dropped")),
            )
        },
        Op {
            query: &[
                (
                    "expires",
                    "When the list stops counting: a duration (30d, 12h, 90m) or an RFC 3339 time; default 30d, at most a year.",
                ),
                ("tlp", "The list's TLP (default: the feed's)."),
            ],
            request_media: &[
                ("text/plain", true),
                ("text/csv", true),
                ("application/json", true),
            ],
            ..op(
                "put",
                "/api/v1/applied/{feed}",
                "exports",
                "Upload the list the caller's organisation applies (text, CSV or a STIX bundle); it replaces the previous one.",
                Some("AppliedUpload"),
                200,
                Some(r("AppliedSummary")),
            )
        },
        op(
            "get",
            "/api/v1/applied/{feed}",
            "exports",
            "The caller's organisation's applied list for a feed.",
            None,
            200,
            Some(r("AppliedList")),
        ),
        op(
            "delete",
            "/api/v1/applied/{feed}",
            "exports",
            "Withdraw the caller's organisation's applied list for a feed.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/allowlist",
            "exports",
            "What is never exported, whoever posted it (ISAC administrator).",
            None,
            200,
            Some(r("Allowlist")),
        ),
        op(
            "post",
            "/api/v1/allowlist",
            "exports",
            "Add an address, network, domain, URL or hash to the allowlist (ISAC administrator).",
            Some("NewAllow"),
            201,
            Some(r("Created")),
        ),
        op(
            "delete",
            "/api/v1/allowlist/{id}",
            "exports",
            "Remove an allowlist entry (ISAC administrator).",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/orgs/{name}/assets",
            "exports",
            "An organisation's own networks and domains, never exported to it.",
            None,
            200,
            Some(r("Assets")),
        ),
        op(
            "post",
            "/api/v1/orgs/{name}/assets",
            "exports",
            "Register a network (CIDR) or domain of an organisation (its org-admin or the ISAC administrator).",
            Some("NewAsset"),
            201,
            Some(r("Created")),
        ),
        op(
            "delete",
            "/api/v1/assets/{id}",
            "exports",
            "Remove a registered network or domain; its history is kept.",
            None,
            204,
            None,
        ),
        op(
            "get",
            "/api/v1/campaigns",
            "notice",
            "Scan campaigns: names, kinds, schedules, networks in their snapshots.",
            None,
            200,
            Some(r("Campaigns")),
        ),
        op(
            "post",
            "/api/v1/campaigns",
            "notice",
            "Start a campaign; it snapshots the networks registered and valid now (ISAC administrator).",
            Some("NewCampaign"),
            201,
            Some(r("Campaign")),
        ),
        Op {
            text: Some(("One CIDR a line.", PLAIN)),
            ..op(
                "get",
                "/api/v1/campaigns/{name}/ranges",
                "notice",
                "The campaign's networks as the fewest CIDRs, one a line, without owners (scanners and the ISAC administrator).",
                None,
                200,
                None,
            )
        },
        Op {
            query: &[(
                "format",
                "csv, jsonl or stix (default: the Content-Type, else the first bytes).",
            )],
            request_media: &[
                ("text/csv", true),
                ("application/x-ndjson", true),
                (STIX, true),
            ],
            ..op(
                "post",
                "/api/v1/campaigns/{name}/results",
                "notice",
                "Upload scan results, read as they arrive, routed to the member owning each address (scanners and the ISAC administrator).",
                Some("ResultsUpload"),
                200,
                Some(r("UploadRecord")),
            )
        },
        op(
            "get",
            "/api/v1/campaigns/{name}/uploads",
            "notice",
            "What each upload routed, merged, could not route and could not read (ISAC administrator).",
            None,
            200,
            Some(r("Uploads")),
        ),
        Op {
            query: &[
                (
                    "org",
                    "An organisation: one's own (members), any (ISAC administrator; default all).",
                ),
                ("campaign", "Only this campaign's findings."),
                (
                    "status",
                    "new, notified, remediated, unreachable or false-positive.",
                ),
                (
                    "after",
                    "Findings with a higher id (the `next` of the previous page).",
                ),
                ("limit", "Findings per page, at most 10000 (default 1000)."),
                (
                    "format",
                    "json (default) or csv (a header row; the address column is `ip`).",
                ),
            ],
            ..op(
                "get",
                "/api/v1/findings",
                "notice",
                "Findings routed to the caller's organisation, by id.",
                None,
                200,
                Some(r("Findings")),
            )
        },
        Op {
            request_media: &[("application/json", true), ("text/csv", false)],
            ..op(
                "post",
                "/api/v1/findings/status",
                "notice",
                "Move findings through their lifecycle: a JSON array of {id, status, note}, or CSV id,status[,note]; all or nothing.",
                Some("StatusUpdates"),
                200,
                Some(r("Changed")),
            )
        },
        Op {
            query: &[
                ("month", "YYYY-MM (required)."),
                (
                    "org",
                    "One organisation's report (one's own for members); without it, ISAC-wide with small counts suppressed.",
                ),
            ],
            ..op(
                "get",
                "/api/v1/reports/monthly",
                "notice",
                "Findings first observed in a month, by kind, and how far notification went.",
                None,
                200,
                Some(r("MonthlyReport")),
            )
        },
        op(
            "get",
            "/api/v1/ranges/overlaps",
            "notice",
            "Networks claimed by more than one organisation: findings there route to neither (ISAC administrator).",
            None,
            200,
            Some(r("Overlaps")),
        ),
        Op {
            query: FORMAT_PARAM,
            text: Some((
                "CSV (format=csv): one table, its rows org, pair or total.",
                &["text/csv"],
            )),
            ..op(
                "get",
                "/api/v1/metrics/coverage",
                "metrics",
                "Who reported what: per organisation and kind (reported, alone, after the relay had it), per pair (shared, Jaccard; ISAC administrators), totals over at least three organisations besides a member's own.",
                None,
                200,
                Some(r("Coverage")),
            )
        },
        Op {
            query: FORMAT_PARAM,
            text: Some(("CSV (format=csv).", &["text/csv"])),
            ..op(
                "get",
                "/api/v1/metrics/leadtime",
                "metrics",
                "How long the relay held observables before an organisation reported them (its own for members; only earlier reports it could read count): median and 90th percentile.",
                None,
                200,
                Some(r("LeadTimes")),
            )
        },
        Op {
            text: Some(("The lead times as an SVG chart.", &["image/svg+xml"])),
            ..op(
                "get",
                "/api/v1/metrics/leadtime.svg",
                "metrics",
                "Lead times, charted.",
                None,
                200,
                None,
            )
        },
        Op {
            query: DAILY_PARAMS,
            text: Some(("CSV (format=csv).", &["text/csv"])),
            ..op(
                "get",
                "/api/v1/metrics/daily",
                "metrics",
                "New C2 servers and phishing sites per day by feed, kind, country and reporting sector; for members, feeds they read and counts from at least three other organisations.",
                None,
                200,
                Some(r("DailyCounts")),
            )
        },
        Op {
            query: DAILY_PARAMS,
            text: Some(("The daily counts as an SVG chart.", &["image/svg+xml"])),
            ..op(
                "get",
                "/api/v1/metrics/daily.svg",
                "metrics",
                "Daily counts, charted.",
                None,
                200,
                None,
            )
        },
        Op {
            query: &[
                (
                    "kind",
                    "The observable's kind: ipv4, ipv6, domain, url, hash:SHA-256, port...",
                ),
                ("value", "Its value."),
            ],
            ..op(
                "get",
                "/api/v1/metrics/observable",
                "metrics",
                "When each organisation first reported an observable, and when anyone did (members: their own report only).",
                None,
                200,
                Some(r("ObservableReports")),
            )
        },
        op(
            "post",
            "/api/v1/metrics/recompute",
            "metrics",
            "Rebuild coverage and lead times from the first reports (ISAC administrators).",
            None,
            200,
            Some(r("Recomputed")),
        ),
    ]
}

const FORMAT_PARAM: &[(&str, &str)] = &[("format", "json (default) or csv.")];
const DAILY_PARAMS: &[(&str, &str)] = &[
    (
        "from",
        "First day, YYYY-MM-DD or an RFC 3339 time (default: 30 days before to).",
    ),
    ("to", "Last day, included (default: today)."),
    ("format", "json (default) or csv."),
];

/// The query parameters of an export.
const EXPORT_PARAMS: &[(&str, &str)] = &[
    (
        "feed",
        "Feeds to include, repeatable or comma-separated (default: every feed the profile allows).",
    ),
    (
        "kind",
        "Observable kinds, repeatable or comma-separated: ip, ipv4, ipv6, domain, url, hash, or a hash algorithm.",
    ),
    (
        "algorithm",
        "hash: the one algorithm listed (default sha256).",
    ),
    ("min_severity", "urgent, important or informational."),
    ("min_confidence", "0 to 100."),
    (
        "min_corroboration",
        "Reported by at least this many organisations.",
    ),
    ("min_applied_by", "Applied by at least this many members."),
    (
        "active",
        "true (default): leave out revoked and expired indicators.",
    ),
    (
        "max",
        "At most this many entries, ranked by applied-by, severity, corroboration, confidence and freshness.",
    ),
    (
        "since",
        "An earlier export's X-Export-Token: only what was added or removed since.",
    ),
    (
        "aggregate",
        "ip: fold addresses into the fewest CIDRs (default true).",
    ),
    ("zone", "rpz: the zone name."),
    ("ttl", "rpz: the records' TTL in seconds."),
    ("action", "rpz: nxdomain (default), nodata or garden:HOST."),
    ("table", "nftables: the table name."),
    ("set", "nftables and ipset: the set name."),
    ("sid_base", "suricata: the first rule's sid."),
];

fn schemas() -> Value {
    let s = |v: Value| v;
    let string = json!({"type": "string"});
    let boolean = json!({"type": "boolean"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let sector = json!({"type": "string", "enum": ["telecom", "broadcast", "security-vendor", "si-vendor", "finance", "government", "research", "other"]});
    let role = json!({"type": "string", "enum": ["isac-admin", "org-admin", "analyst", "reader"]});
    let tlp = json!({"type": "string", "enum": ["clear", "green", "amber", "amber+strict", "red"]});
    let kind = json!({"type": "string", "enum": ["operator", "member", "partner"]});
    let severity = json!({"type": "string", "enum": ["urgent", "important", "informational"]});
    let volume = json!({"type": "string", "enum": ["many", "medium", "few"]});
    let rule_field = json!({"type": "string", "enum": ["title", "label", "marking"]});
    let rule_match = json!({"type": "string", "enum": ["equals", "prefix", "contains"]});
    let positive = json!({"type": "integer", "minimum": 1});
    let mut schemas = json!({
        "Error": s(json!({"type": "object", "required": ["title", "http_status"], "properties": {
            "title": string, "description": string, "error_id": string, "http_status": string}})),
        "Me": {"type": "object", "properties": {"user": string, "role": role, "org": string, "org_kind": kind, "read_only": boolean}},
        "DirectoryEntry": {"type": "object", "properties": {"name": string, "kind": kind, "sector": sector, "country": string, "identity": string}},
        "Org": {"type": "object", "properties": {"name": string, "kind": kind, "sector": sector, "country": string,
            "contacts": strings, "anonymous": boolean, "identity": {"type": "object", "description": "The organisation's STIX 2.1 identity object."}, "created": string}},
        "NewOrg": {"type": "object", "required": ["name", "sector", "country"], "additionalProperties": false, "properties": {
            "name": string, "sector": sector, "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "contacts": strings,
            "partner": boolean, "anonymous": boolean}},
        "OrgPatch": {"type": "object", "additionalProperties": false, "properties": {"anonymous": boolean, "contacts": strings}},
        "User": {"type": "object", "properties": {"name": string, "org": string, "role": role, "has_password": boolean, "created": string}},
        "NewUser": {"type": "object", "required": ["org", "name", "role"], "additionalProperties": false, "properties": {
            "org": string, "name": string, "role": role, "password": {"type": "string", "minLength": 12}}},
        "Password": {"type": "object", "required": ["password"], "additionalProperties": false, "properties": {"password": {"type": "string", "minLength": 12}}},
        "Token": {"type": "object", "properties": {"id": {"type": "integer"}, "user": string, "org": string, "name": string,
            "read_only": boolean, "created": string, "expires": {"type": ["string", "null"]}, "revoked": {"type": ["string", "null"]}}},
        "NewToken": {"type": "object", "required": ["user", "name"], "additionalProperties": false, "properties": {
            "user": string, "name": string, "expires_days": {"type": "integer", "minimum": 1}, "read_only": boolean}},
        "CreatedToken": {"type": "object", "properties": {"id": {"type": "integer"}, "token": string}},
        "Group": {"type": "object", "properties": {"name": string, "members": strings}},
        "NewGroup": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": string}},
        "Feed": {"type": "object", "properties": {"id": string, "name": string, "description": {"type": ["string", "null"]}, "default_tlp": tlp,
            "severity": severity, "volume": volume, "kind": {"type": "string", "enum": ["regular", "aggregate", "test"]},
            "inbox": boolean, "retired": boolean,
            "grants": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["org", "group"]}, "name": string, "read": boolean, "write": boolean}}}}},
        "NewFeed": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": string, "description": string, "default_tlp": tlp,
            "severity": severity, "volume": volume, "kind": {"type": "string", "enum": ["regular", "test"]}, "inbox": boolean}},
        "GrantRights": {"type": "object", "additionalProperties": false, "properties": {"read": boolean, "write": boolean}},
        "SearchResult": {"type": "object", "properties": {
            "query": {"type": "object", "properties": {"kinds": strings, "values": strings}},
            "results": {"type": "array", "items": {"type": "object", "properties": {
                "collection_id": string, "feed": string, "object_id": string, "type": string, "version": string,
                "date_added": string, "kind": string, "value": string, "corroboration": {"type": "integer"}}}}}},
    });
    // Split in two: one json! of every schema passes the macro's recursion limit.
    let more = json!({
        "FeedPatch": {"type": "object", "additionalProperties": false, "properties": {"description": string, "default_tlp": tlp,
            "severity": severity, "volume": volume, "inbox": boolean, "retired": boolean}},
        "RoutingRule": {"type": "object", "properties": {"id": {"type": "integer"}, "field": rule_field, "match": rule_match, "value": string, "feed": string}},
        "NewRoutingRule": {"type": "object", "required": ["field", "value", "feed"], "additionalProperties": false, "properties": {
            "field": rule_field, "match": rule_match, "value": string, "feed": string}},
        "Profile": {"type": "object", "additionalProperties": false, "description": "What a consumer receives, on every channel. A token's profile replaces its organisation's.", "properties": {
            "feeds": strings, "min_severity": severity, "min_confidence": {"type": "integer", "minimum": 0, "maximum": 100},
            "types": strings, "max_per_poll": positive, "max_per_day": positive,
            "requests_per_second": positive, "objects_per_day": positive}},
        "Webhook": {"type": "object", "properties": {"id": {"type": "integer"}, "user": string, "collection_id": string, "url": string,
            "cursor": string, "created": string, "removed": {"type": ["string", "null"]}}},
        "CreatedWebhook": {"allOf": [r("Webhook"), {"type": "object", "properties": {"secret": string}}]},
        "NewWebhook": {"type": "object", "required": ["feed", "url"], "additionalProperties": false, "properties": {"feed": string, "url": string}},
        "Delivery": {"type": "object", "properties": {"at": string, "attempt": {"type": "integer"}, "objects": {"type": "integer"},
            "http_status": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}, "delivered": boolean}},
        "Reporters": {"type": "object", "properties": {"kind": string, "value": string, "organisations": strings}},
    });
    let entry = json!({"type": "object", "properties": {"kind": string, "value": string}});
    let exports = json!({
        "Dropped": {"type": "object", "properties": {"dropped": {"type": "array", "items": {"type": "object", "properties": {
            "kind": string, "value": string, "reason": string, "detail": string}}}}},
        "AppliedUpload": {"type": "string", "description": "One entry a line (text/plain), a CSV with a value column (text/csv), or a STIX 2.1 bundle (application/json)."},
        "AppliedSummary": {"type": "object", "properties": {"feed": string, "entries": {"type": "integer"}, "added": {"type": "integer"},
            "withdrawn": {"type": "integer"}, "tlp": tlp, "expires": string}},
        "AppliedList": {"type": "object", "properties": {"feed": string, "tlp": tlp, "uploaded": string, "expires": string,
            "entries": {"type": "array", "items": entry}}},
        "Allowlist": {"type": "object", "properties": {"allowlist": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": string, "value": string, "reason": string, "created": string}}}}},
        "NewAllow": {"type": "object", "required": ["value", "reason"], "additionalProperties": false, "properties": {"value": string, "reason": string}},
        "Assets": {"type": "object", "properties": {"assets": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "org": string, "kind": {"type": "string", "enum": ["cidr", "domain"]}, "value": string, "added": string}}}}},
        "NewAsset": {"type": "object", "required": ["value"], "additionalProperties": false, "properties": {"value": string}},
        "Created": {"type": "object", "properties": {"id": {"type": "integer"}}},
    });
    let count = json!({"type": ["integer", "null"], "description": "null where suppressed"});
    let n = json!({"type": "integer"});
    let status = json!({"type": "string", "enum": ["new", "notified", "remediated", "unreachable", "false-positive"]});
    let notice = json!({
        "Campaign": {"type": "object", "properties": {"name": string, "kind": {"type": "string", "enum": ["monthly", "standing"]},
            "schedule": {"type": ["string", "null"]}, "created": string, "ranges": {"type": "integer"}}},
        "Campaigns": {"type": "object", "properties": {"campaigns": {"type": "array", "items": r("Campaign")}}},
        "NewCampaign": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "kind": {"type": "string", "enum": ["monthly", "standing"]}, "schedule": string}},
        "ResultsUpload": {"type": "string", "description": "CSV ip,port,protocol,finding,observed_at[,detail] (a header row optional), JSON lines with those keys, or a STIX 2.1 bundle of observed-data and sightings."},
        "UploadRecord": {"type": "object", "properties": {"lines": {"type": "integer"}, "added": {"type": "integer"}, "merged": {"type": "integer"},
            "unmatched": {"type": "integer"}, "malformed": {"type": "integer"}, "errors": strings, "uploader": string, "at": string}},
        "Uploads": {"type": "object", "properties": {"uploads": {"type": "array", "items": r("UploadRecord")}}},
        "Finding": {"type": "object", "properties": {"id": {"type": "integer"}, "campaign": string, "org": string, "ip": string,
            "port": {"type": ["integer", "null"]}, "protocol": {"type": ["string", "null"]}, "finding": string, "first_observed": string,
            "last_observed": string, "times_seen": {"type": "integer"}, "detail": {"type": ["string", "null"]}, "status": status,
            "status_at": {"type": ["string", "null"]}, "status_note": {"type": ["string", "null"]}}},
        "Findings": {"type": "object", "properties": {"findings": {"type": "array", "items": r("Finding")}, "next": {"type": ["integer", "null"]}}},
        "StatusUpdates": {"type": "array", "items": {"type": "object", "required": ["id", "status"], "additionalProperties": false,
            "properties": {"id": {"type": "integer"}, "status": status, "note": string}}},
        "Changed": {"type": "object", "properties": {"changed": {"type": "integer"}}},
        "MonthlyReport": {"type": "object", "properties": {"month": string, "org": {"type": ["string", "null"]}, "members": {"type": ["integer", "null"]},
            "suppressed": boolean, "rows": {"type": "array", "items": {"type": "object", "properties": {"finding": string, "findings": count,
            "notified": count, "remediated": count, "unreachable": count, "false_positive": count, "open": count}}}}},
        "Coverage": {"type": "object", "properties": {
            "orgs": {"type": "array", "items": {"type": "object", "properties": {"org": string, "kind": string, "reported": n,
                "unique": n, "preceded": n, "preceded_share": {"type": "number"}}}},
            "pairs": {"type": "array", "items": {"type": "object", "properties": {"kind": string, "a": string, "b": string,
                "shared": n, "jaccard": {"type": "number"}}}},
            "totals": {"type": "array", "items": {"type": "object", "properties": {"kind": string, "organisations": n,
                "reports": n, "unique": n, "preceded": n, "mean_jaccard": {"type": "number"}}}}}},
        "LeadTimes": {"type": "object", "properties": {"leads": {"type": "array", "items": {"type": "object", "properties": {
            "org": string, "kind": string, "preceded": n, "median_seconds": {"type": "number"}, "p90_seconds": {"type": "number"}}}}}},
        "DailyCounts": {"type": "object", "properties": {"from": string, "to": string,
            "counts": {"type": "array", "items": {"type": "object", "properties": {"day": string, "category": {"enum": ["c2", "phishing"]},
                "feed": string, "kind": string, "country": {"type": ["string", "null"]}, "sector": string, "count": n}}}}},
        "Recomputed": {"type": "object", "properties": {"reports": n}},
        "ObservableReports": {"type": "object", "properties": {"kind": string, "value": string,
            "first": {"type": ["string", "null"]}, "reports": {"type": "array", "items": {"type": "object",
                "properties": {"org": string, "at": string}}}}},
        "Overlaps": {"type": "object", "properties": {"overlaps": {"type": "array", "items": {"type": "object", "properties": {
            "net": string, "org": string, "other_net": string, "other_org": string}}}}},
    });
    let optional = json!({"type": ["string", "null"]});
    let federation = json!({
        "NewPeer": {"type": "object", "required": ["name", "direction", "api_root", "collection", "feeds"], "additionalProperties": false,
            "properties": {"name": string, "direction": {"type": "string", "enum": ["pull", "push"]}, "api_root": string,
            "collection": string, "feeds": strings, "user": string, "password": string, "token": string, "client_cert": string,
            "default_tlp": string, "max_tlp": {"type": "string", "enum": ["clear", "green", "amber"]}, "types": strings,
            "min_severity": string, "peer_org": string, "interval_secs": {"type": "integer", "minimum": 10}}},
        "Peer": {"type": "object", "properties": {"name": string, "direction": string, "api_root": string, "collection": string,
            "auth": {"type": "string", "enum": ["none", "basic", "bearer"]}, "feeds": strings, "default_tlp": optional,
            "max_tlp": string, "types": strings, "min_severity": optional, "interval_secs": n, "cursor": optional,
            "last_run": optional, "last_success": optional, "last_error": optional, "transferred": n}},
        "Peers": {"type": "object", "properties": {"peers": {"type": "array", "items": r("Peer")}}},
    });
    if let Some(all) = schemas.as_object_mut() {
        for extra in [more, exports, notice, federation] {
            if let Value::Object(extra) = extra {
                all.extend(extra);
            }
        }
    }
    schemas
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in ops() {
        let mut params = path_params(op.path);
        params.extend(op.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": *name == "q", "description": description, "schema": {"type": "string"}})
        }));
        let string = json!({"schema": {"type": "string"}});
        let success = match (&op.response, op.text) {
            (Some(schema), _) => {
                json!({"description": "Success.", "content": {"application/json": {"schema": schema}}})
            }
            (None, Some((description, media))) => {
                let content: Map<String, Value> = media
                    .iter()
                    .map(|m| ((*m).to_owned(), string.clone()))
                    .collect();
                json!({"description": description, "content": content})
            }
            (None, None) => json!({"description": "Done."}),
        };
        let error = json!({"description": "A TAXII-style error message.", "content": {"application/json": {"schema": r("Error")}}});
        let mut responses = Map::new();
        responses.insert(op.status.to_string(), success);
        for code in ["400", "401", "403", "404", "409", "429"] {
            responses.insert(code.into(), error.clone());
        }
        let mut operation = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}'], "_")),
            "responses": responses,
        });
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(req) = op.request {
            let media: &[(&str, bool)] = if op.request_media.is_empty() {
                &[("application/json", true)]
            } else {
                op.request_media
            };
            let content: Map<String, Value> = media
                .iter()
                .map(|(m, schema)| {
                    let body = if *schema {
                        json!({"schema": r(req)})
                    } else {
                        string.clone()
                    };
                    ((*m).to_owned(), body)
                })
                .collect();
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        if op.not_modified {
            operation["responses"]["304"] =
                json!({"description": "Unchanged since the ETag given in If-None-Match."});
        }
        let entry = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "isac-relay administration and search API",
            "version": "1",
            "description": "The relay's own JSON API beside TAXII 2.1 (served under /taxii2/). Authenticate with 'Authorization: Bearer TOKEN', or HTTP Basic with a user name and its token or password. Errors are TAXII-style error messages.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
            "schemas": schemas(),
        },
    })
}
