"""Interop test: isac-relay driven by the OASIS TAXII 2.1 client (taxii2-client 2.3.0, v21 API),
with STIX content made by the OASIS stix2 library (3.0.2).

The test starts the server itself on a fresh temporary data directory and a free port:
  - binary: $ISAC_RELAY_BIN, else <repo>/target/release/isac-relay, else <repo>/target/debug/isac-relay
  - feeds (collections) are created beforehand with `isac-relay feed add NAME --data DIR`
  - the admin token comes from ISAC_RELAY_ADMIN_TOKEN (first start of a fresh data dir)
  - page sizes are made small (default 10, max 20) and max_content_length 64 KiB through the
    ISAC_RELAY_TAXII__* environment variables, so that paging, limit clamping and 413 are
    exercised with little data.
The server is stopped with SIGTERM at the end and must exit cleanly.

Run it with tests/interop/run.sh (creates a venv, installs requirements.txt, runs pytest).
"""

import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import requests.auth
import stix2
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

REPO = Path(__file__).resolve().parents[2]
TOKEN = "interop-" + uuid.uuid4().hex  # >= 20 chars
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 20
MAX_CONTENT_LENGTH = 65536
FEEDS = ["objects", "paging", "versions", "deletes", "bearer"]
STIX21 = "application/stix+json;version=2.1"
TAXII21 = "application/taxii+json;version=2.1"
TAXII_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# --------------------------------------------------------------------------------------------
# helpers


def _binary():
    env = os.environ.get("ISAC_RELAY_BIN")
    if env:
        p = Path(env)
        if not p.is_absolute() and not p.exists():
            p = REPO / p
        return p
    for p in (REPO / "target/release/isac-relay", REPO / "target/debug/isac-relay"):
        if p.exists():
            return p
    return REPO / "target/release/isac-relay"


def parse_ts(s):
    """Parse a STIX/TAXII timestamp (any number of fraction digits, 'Z') to an aware datetime."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", s)
    assert m, "not a UTC RFC 3339 timestamp: %r" % (s,)
    base = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    frac = (m.group(2) or "").ljust(6, "0")[:6]
    return base + dt.timedelta(microseconds=int(frac))


def as_json(obj):
    """A stix2 object as the plain JSON dict that goes over the wire."""
    return json.loads(obj.serialize())


def envelope(*objs):
    return {"objects": [o if isinstance(o, dict) else as_json(o) for o in objs]}


def objects_of(env):
    return env.get("objects", [])


def all_pages(func, per_request, **filters):
    """Collect every page of taxii2client.v21.as_pages, with a guard against endless paging."""
    pages = []
    for page in as_pages(func, per_request=per_request, **filters):
        pages.append(page)
        assert len(pages) <= 100, "server keeps answering more=true (next=%r)" % page.get("next")
    return pages


def by_title(api_root, title):
    for c in api_root.collections:
        if c.title == title:
            return c
    raise AssertionError("no collection titled %r in %r" % (title, [c.title for c in api_root.collections]))


def new_indicator(name, **kw):
    return stix2.Indicator(
        name=name,
        pattern="[ipv4-addr:value = '198.51.100.%d']" % (uuid.uuid4().int % 250 + 1),
        pattern_type="stix",
        valid_from="2024-01-01T00:00:00Z",
        **kw,
    )


def http_status(excinfo):
    return excinfo.value.response.status_code


class BearerAuth(requests.auth.AuthBase):
    """requests auth object sending `Authorization: Bearer TOKEN`."""

    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


# --------------------------------------------------------------------------------------------
# the server


class RelayServer:
    def __init__(self):
        self.bin = _binary()
        if not self.bin.exists():
            pytest.fail("isac-relay binary not found at %s (build it or set ISAC_RELAY_BIN)" % self.bin)
        self.tmp = Path(tempfile.mkdtemp(prefix="isac-relay-interop-"))
        self.data = self.tmp / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ISAC_RELAY_")}
        self.env.update(
            ISAC_RELAY_ADMIN_TOKEN=TOKEN,
            ISAC_RELAY_TAXII__DEFAULT_PAGE_SIZE=str(DEFAULT_PAGE_SIZE),
            ISAC_RELAY_TAXII__MAX_PAGE_SIZE=str(MAX_PAGE_SIZE),
            ISAC_RELAY_TAXII__MAX_CONTENT_LENGTH=str(MAX_CONTENT_LENGTH),
        )
        self.proc = None
        self.url = None

    def start(self):
        for name in FEEDS:
            subprocess.run(
                [str(self.bin), "feed", "add", name, "--data", str(self.data),
                 "--description", "interop feed " + name],
                env=self.env, check=True, capture_output=True, timeout=60,
            )
        self.out_path = self.tmp / "stdout.log"
        self.err_path = self.tmp / "stderr.log"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(self.bin), "serve", "--data", str(self.data), "--listen", "127.0.0.1:0"],
                stdout=out, stderr=err, env=self.env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://\S+)", self.out_path.read_text(errors="replace"))
            if m:
                self.url = m.group(1).rstrip("/")
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        pytest.fail("server did not print 'listening on' (rc=%s)\nstdout:\n%s\nstderr:\n%s" % (
            self.proc.returncode, self.out_path.read_text(errors="replace"),
            self.err_path.read_text(errors="replace")[-4000:]))

    def stop(self):
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "killed after SIGTERM timeout"
        elif self.proc:
            rc = self.proc.returncode
        return rc

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def relay():
    srv = RelayServer()
    srv.start()
    yield srv
    still_running = srv.proc.poll() is None
    rc = srv.stop()
    stderr = srv.err_path.read_text(errors="replace")
    srv.cleanup()
    assert still_running, "the server died during the tests (rc=%s):\n%s" % (rc, stderr[-4000:])
    assert rc == 0, "the server did not exit cleanly on SIGTERM (rc=%s):\n%s" % (rc, stderr[-4000:])


@pytest.fixture(scope="session")
def discovery_url(relay):
    return relay.url + "/taxii2/"


@pytest.fixture(scope="session")
def server(discovery_url):
    return Server(discovery_url, user="admin", password=TOKEN)


@pytest.fixture(scope="session")
def api_root(server):
    assert server.api_roots, "discovery lists no API root"
    return server.api_roots[0]


@pytest.fixture(scope="session")
def paging_data(api_root):
    """25 indicators posted to the 'paging' feed in 5 POSTs of 5; returns the id lists per POST."""
    coll = by_title(api_root, "paging")
    batches = []
    for b in range(5):
        objs = [new_indicator("paging %d.%d" % (b, i)) for i in range(5)]
        st = coll.add_objects(envelope(*objs))
        assert st.success_count == 5, st._raw
        batches.append([o.id for o in objs])
    return coll, batches


@pytest.fixture(scope="session")
def versioned(api_root):
    """One indicator in 3 versions (posted one per request, increasing modified) in 'versions'."""
    coll = by_title(api_root, "versions")
    # Whole milliseconds ending in 0 so that taxii2-client sends e.g. '.12Z' for a datetime filter.
    t0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=120000) - dt.timedelta(minutes=10)
    v1 = new_indicator("versioned", created=t0, modified=t0)
    v2 = v1.new_version(modified=t0 + dt.timedelta(seconds=1), name="versioned v2")
    v3 = v2.new_version(modified=t0 + dt.timedelta(seconds=2), name="versioned v3")
    for v in (v1, v2, v3):
        st = coll.add_objects(envelope(v))
        assert st.success_count == 1 and st.failure_count == 0, st._raw
    other = new_indicator("unrelated")
    coll.add_objects(envelope(other))
    return coll, [v1, v2, v3], other


# --------------------------------------------------------------------------------------------
# discovery, API root, collections


def test_discovery(server, discovery_url):
    assert server.title == "isac-relay"
    assert server.description
    assert len(server.api_roots) == 1
    root = server.api_roots[0]
    # relative '/taxii2/isac/' resolved against the discovery URL
    assert root.url == discovery_url + "isac/"
    assert server.default is not None, "'default' must name an entry of api_roots"
    assert server.default.url == root.url
    assert server._raw["default"] in server._raw["api_roots"]


def test_api_root(api_root):
    assert api_root.title
    assert TAXII21 in api_root.versions
    assert api_root.max_content_length == MAX_CONTENT_LENGTH


def test_collections_list(api_root):
    colls = api_root.collections
    titles = [c.title for c in colls]
    for name in ["TEST"] + FEEDS:
        assert titles.count(name) == 1, titles
    ids = [c.id for c in colls]
    assert len(set(ids)) == len(ids)
    for c in colls:
        assert uuid.UUID(c.id).version == 4, c.id
        assert c.url == api_root.url + "collections/" + c.id + "/"
        assert c.can_read is True and c.can_write is True
        assert STIX21 in (c.media_types or [])
    # consistent sort order across requests (TAXII 2.1 section 3.3)
    api_root.refresh_collections()
    assert [c.id for c in api_root.collections] == ids


def test_collection_properties(api_root):
    listed = by_title(api_root, "objects")
    coll = Collection(listed.url, user="admin", password=TOKEN)
    assert coll.id == listed.id
    assert coll.title == "objects"
    assert coll.description == "interop feed objects"
    assert coll.can_read is True
    assert coll.can_write is True
    assert coll.media_types == listed.media_types


def test_unknown_collection_is_404(api_root):
    coll = Collection(api_root.url + "collections/%s/" % uuid.uuid4(), user="admin", password=TOKEN)
    with pytest.raises(requests.HTTPError) as e:
        coll.refresh()
    assert http_status(e) == 404


# --------------------------------------------------------------------------------------------
# add objects, status


def test_add_objects(api_root):
    coll = by_title(api_root, "objects")
    ind = new_indicator("evil ip")
    mal = stix2.Malware(name="EvilBot", is_family=True, malware_types=["bot"])
    rel = stix2.Relationship(ind, "indicates", mal)
    sent = envelope(ind, mal, rel)

    st = coll.add_objects(sent)
    assert st.status == "complete"
    assert (st.total_count, st.success_count, st.failure_count, st.pending_count) == (3, 3, 0, 0)
    assert sorted(d["id"] for d in st.successes) == sorted([ind.id, mal.id, rel.id])
    for d in st.successes:
        obj = next(o for o in sent["objects"] if o["id"] == d["id"])
        assert parse_ts(d["version"]) == parse_ts(obj["modified"])
    if "request_timestamp" in st._raw:
        assert TAXII_TS.match(st.request_timestamp), st.request_timestamp

    got = coll.get_objects(id=[ind.id, mal.id, rel.id])
    assert got.get("more", False) is False
    returned = {o["id"]: o for o in objects_of(got)}
    assert set(returned) == {ind.id, mal.id, rel.id}
    for o in sent["objects"]:
        assert returned[o["id"]] == o, "object did not round-trip unchanged"
        # and the stix2 library accepts what the server hands back
        assert stix2.parse(returned[o["id"]]).id == o["id"]

    # The same envelope again: exact duplicates MUST NOT be reported as errors (section 5.5).
    again = coll.add_objects(sent)
    assert again.status == "complete"
    assert again.failure_count == 0, again._raw
    assert again.success_count == 3, again._raw
    assert again.total_count == 3
    # ... and they are not stored twice
    man = coll.get_manifest(id=[ind.id, mal.id, rel.id], version="all")
    assert sorted(r["id"] for r in objects_of(man)) == sorted([ind.id, mal.id, rel.id])


def test_default_routes_posts_by_title_and_serves_every_feed(api_root):
    default = by_title(api_root, "Default")
    assert default.can_read and default.can_write
    ind = new_indicator("C2: beacon seen by the sandbox")
    lonely = new_indicator("a title naming no feed")
    st = default.add_objects(envelope(ind, lonely))
    assert (st.success_count, st.failure_count) == (1, 1)
    assert st.successes[0]["id"] == ind.id
    assert st.successes[0]["message"] == "routed to C2 by its title"
    assert "feeds: C2, CX" in st.failures[0]["message"]
    c2 = by_title(api_root, "C2")
    assert [o["id"] for o in objects_of(c2.get_objects(id=ind.id))] == [ind.id]
    got = objects_of(default.get_objects(id=ind.id))
    assert [o["id"] for o in got] == [ind.id]
    assert got[0] == as_json(ind), "served as posted"


def test_add_objects_invalid_object_is_a_failure(api_root):
    coll = by_title(api_root, "objects")
    good = new_indicator("good one")
    # Objects breaking the STIX 2.1 common-property rules the relay checks.
    no_modified = as_json(new_indicator("no modified"))
    del no_modified["modified"]
    backwards = as_json(new_indicator("modified before created"))
    backwards["created"], backwards["modified"] = "2024-02-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"
    wrong_prefix = as_json(new_indicator("id of another type"))
    wrong_prefix["id"] = wrong_prefix["id"].replace("indicator--", "malware--")
    bad = [no_modified, backwards, wrong_prefix]
    st = coll.add_objects(envelope(good, *bad))
    assert st.status == "complete"
    assert (st.total_count, st.success_count, st.failure_count) == (4, 1, 3), st._raw
    assert [d["id"] for d in st.successes] == [good.id]
    assert sorted(d["id"] for d in st.failures) == sorted(b["id"] for b in bad)
    # the valid object was stored, the invalid ones were not
    assert [o["id"] for o in objects_of(coll.get_object(good.id))] == [good.id]
    for b in bad:
        with pytest.raises(requests.HTTPError) as e:
            coll.get_object(b["id"])
        assert http_status(e) == 404


def _padded_envelope(ind, size):
    """An envelope of one indicator whose JSON encoding is exactly `size` bytes."""
    obj = as_json(ind)
    obj["description"] = ""
    base = len(json.dumps(envelope(obj), ensure_ascii=False).encode("utf-8"))
    obj["description"] = "x" * (size - base)
    data = json.dumps(envelope(obj), ensure_ascii=False)
    assert len(data.encode("utf-8")) == size
    return data


def test_max_content_length(api_root):
    coll = by_title(api_root, "objects")
    limit = api_root.max_content_length
    # exactly the advertised size MUST NOT be refused with 413
    fits = new_indicator("fits")
    st = coll.add_objects(_padded_envelope(fits, limit))
    assert st.success_count == 1, st._raw
    # One byte more is refused with 413, and the client's next request (on the same pooled
    # keep-alive connection) must still work. Repeated because a server that closes the
    # connection without saying so only breaks the next request when it wins the race.
    for _ in range(10):
        too_big = new_indicator("too big")
        with pytest.raises(requests.HTTPError) as e:
            coll.add_objects(_padded_envelope(too_big, limit + 1))
        assert http_status(e) == 413
        with pytest.raises(requests.HTTPError) as e:
            coll.get_object(too_big.id)
        assert http_status(e) == 404


def _read_response(sock):
    """Read one HTTP/1.1 response (Content-Length framed); None if the server closed first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers


@pytest.mark.parametrize("case", ["413 too large", "401 wrong password", "415 wrong content type"])
def test_connection_usable_after_refused_post(relay, api_root, case):
    """A POST refused before its body is read: the server must either keep the connection usable
    for the next request or announce `Connection: close` (RFC 9112 section 9.6); closing it silently
    makes keep-alive clients (requests/urllib3, so taxii2-client) fail their next request."""
    coll = by_title(api_root, "objects")
    path = urlsplit(coll.url).path + "objects/"
    size = api_root.max_content_length + 1 if case.startswith("413") else 50000
    body = _padded_envelope(new_indicator("raw"), size).encode("utf-8")
    password = "wrong-" + uuid.uuid4().hex if case.startswith("401") else TOKEN
    ctype = "application/json" if case.startswith("415") else TAXII21
    basic = base64.b64encode(("admin:" + password).encode()).decode()
    good = base64.b64encode(("admin:" + TOKEN).encode()).decode()
    u = urlsplit(relay.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        head = ("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nAccept: %s\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n") % (path, u.netloc, basic, TAXII21, ctype, len(body))
        try:
            sock.sendall(head.encode() + body)
        except OSError as e:  # the server may stop reading early; its response must still arrive
            print("send:", e)
        first = _read_response(sock)
        assert first is not None, "no response to the refused POST"
        want = int(case.split()[0])
        assert first[0] == want, first
        if first[1].get("connection", "").lower() == "close":
            return  # announced: a client opens a new connection
        try:
            sock.sendall(("GET /taxii2/ HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nAccept: %s\r\n\r\n"
                          % (u.netloc, good, TAXII21)).encode())
            second = _read_response(sock)
        except OSError as e:
            second = e
        assert isinstance(second, tuple) and second[0] == 200, (
            "the server closed the connection after %d without 'Connection: close' "
            "(next request on it got %r)" % (want, second))


def test_get_status(api_root):
    coll = by_title(api_root, "objects")
    ind = new_indicator("status check")
    posted = coll.add_objects(envelope(ind))
    st = api_root.get_status(posted.id)
    assert st.id == posted.id
    assert uuid.UUID(st.id)
    assert st.status == "complete"
    assert (st.total_count, st.success_count, st.failure_count, st.pending_count) == (1, 1, 0, 0)
    assert [d["id"] for d in st.successes] == [ind.id]
    # the URL the client derives after a POST points to the same resource
    posted.refresh()
    assert posted.id == st.id and posted.success_count == 1


def test_unknown_status_is_404(api_root):
    with pytest.raises(requests.HTTPError) as e:
        api_root.get_status(str(uuid.uuid4()))
    assert http_status(e) == 404


# --------------------------------------------------------------------------------------------
# paging


@pytest.mark.parametrize("per_request", [7, 1, 25, 100])
def test_get_objects_as_pages(paging_data, per_request):
    coll, batches = paging_data
    pages = all_pages(coll.get_objects, per_request)
    ids = [o["id"] for p in pages for o in objects_of(p)]
    expected = [i for b in batches for i in b]
    assert len(ids) == len(set(ids)), "an object was returned twice"
    assert set(ids) == set(expected), "objects missing from the pages"
    # date_added order: everything of POST k before everything of POST k+1
    batch_of = {i: n for n, b in enumerate(batches) for i in b}
    assert [batch_of[i] for i in ids] == sorted(batch_of[i] for i in ids)
    effective = min(per_request, MAX_PAGE_SIZE)
    for p in pages[:-1]:
        assert p.get("more") is True
        assert p.get("next"), "more=true without next"
        assert len(objects_of(p)) <= effective
    assert pages[-1].get("more", False) is False
    assert len(pages) == -(-len(expected) // effective)
    # same order as the manifest, which carries date_added
    man = [r for p in all_pages(coll.get_manifest, MAX_PAGE_SIZE) for r in objects_of(p)]
    assert [r["id"] for r in man] == ids


def test_limit_is_respected_and_clamped(paging_data):
    coll, batches = paging_data
    three = coll.get_objects(limit=3)
    assert len(objects_of(three)) == 3 and three.get("more") is True
    # no limit: the server's default page size
    default = coll.get_objects()
    assert len(objects_of(default)) == DEFAULT_PAGE_SIZE and default.get("more") is True
    # a limit above the server's maximum is clamped, not an error, and more=true says there is more
    big = coll.get_objects(limit=MAX_PAGE_SIZE + 30)
    assert len(objects_of(big)) == MAX_PAGE_SIZE and big.get("more") is True and big.get("next")


@pytest.mark.parametrize("per_request", [4, 25])
def test_get_manifest_as_pages(paging_data, per_request):
    coll, batches = paging_data
    pages = all_pages(coll.get_manifest, per_request)
    recs = [r for p in pages for r in objects_of(p)]
    expected = [i for b in batches for i in b]
    assert sorted(r["id"] for r in recs) == sorted(expected)
    added = [parse_ts(r["date_added"]) for r in recs]
    assert added == sorted(added), "manifest not in date_added order"
    batch_of = {i: n for n, b in enumerate(batches) for i in b}
    assert [batch_of[r["id"]] for r in recs] == sorted(batch_of[r["id"]] for r in recs)
    assert pages[-1].get("more", False) is False
    assert len(pages) == -(-len(expected) // min(per_request, MAX_PAGE_SIZE))


def test_as_pages_with_filter(paging_data):
    coll, batches = paging_data
    wanted = batches[1][:2] + batches[3] + batches[4][-1:]
    pages = all_pages(coll.get_objects, 3, id=wanted, type="indicator")
    ids = [o["id"] for p in pages for o in objects_of(p)]
    assert ids == [i for i in [x for b in batches for x in b] if i in wanted]
    assert len(pages) == 3


def test_added_after(paging_data):
    coll, batches = paging_data
    man = [r for p in all_pages(coll.get_manifest, MAX_PAGE_SIZE) for r in objects_of(p)]
    cut = next(r for r in man if r["id"] == batches[2][-1])["date_added"]
    after = [o["id"] for p in all_pages(coll.get_objects, 6, added_after=cut) for o in objects_of(p)]
    assert after == [r["id"] for r in man if parse_ts(r["date_added"]) > parse_ts(cut)]
    assert set(after) == set(batches[3] + batches[4])


# --------------------------------------------------------------------------------------------
# single objects, versions, manifest


def test_get_object(versioned):
    coll, (v1, v2, v3), other = versioned
    env = coll.get_object(v1.id)
    objs = objects_of(env)
    assert len(objs) == 1, "without match[version] only the latest version"
    assert objs[0] == as_json(v3)
    assert env.get("more", False) is False
    env = coll.get_object(other.id)
    assert objects_of(env) == [as_json(other)]


def test_get_unknown_object_is_404(versioned):
    coll = versioned[0]
    with pytest.raises(requests.HTTPError) as e:
        coll.get_object("indicator--%s" % uuid.uuid4())
    assert http_status(e) == 404


def test_object_versions(versioned):
    coll, vs, other = versioned
    res = coll.object_versions(vs[0].id)
    got = res.get("versions", [])
    assert len(got) == 3
    assert sorted(parse_ts(v) for v in got) == [parse_ts(as_json(v)["modified"]) for v in vs]
    assert res.get("more", False) is False


def test_match_version(versioned):
    coll, (v1, v2, v3), other = versioned

    def names(**kw):
        return sorted(o["name"] for o in objects_of(coll.get_object(v1.id, **kw)))

    assert names(version="first") == ["versioned"]
    assert names(version="last") == ["versioned v3"]
    assert names(version="all") == ["versioned", "versioned v2", "versioned v3"]
    # an exact version, as the STIX string ...
    assert names(version=as_json(v2)["modified"]) == ["versioned v2"]
    # ... and as a datetime, which taxii2-client sends with trailing zeros stripped ('.12Z')
    assert names(version=dt.datetime.fromtimestamp(v2.modified.timestamp(), dt.timezone.utc)) == ["versioned v2"]
    assert names(version=[as_json(v1)["modified"], "last"]) == ["versioned", "versioned v3"]
    # the same filters through Get Objects
    objs = objects_of(coll.get_objects(id=v1.id, version="all"))
    assert sorted(o["modified"] for o in objs) == sorted(as_json(v)["modified"] for v in (v1, v2, v3))
    objs = objects_of(coll.get_objects(version="first"))
    assert sorted(o["name"] for o in objs) == ["unrelated", "versioned"]


def test_manifest_fields(versioned):
    coll, vs, other = versioned
    man = coll.get_manifest(id=vs[0].id, version="all")
    recs = objects_of(man)
    assert len(recs) == 3, "one manifest record per object version"
    assert sorted(parse_ts(r["version"]) for r in recs) == [parse_ts(as_json(v)["modified"]) for v in vs]
    for r in recs:
        assert r["id"] == vs[0].id
        assert TAXII_TS.match(r["date_added"]), r["date_added"]
        assert r.get("media_type", STIX21) == STIX21
    # versions were posted one request each, oldest first
    assert [parse_ts(r["version"]) for r in recs] == [parse_ts(as_json(v)["modified"]) for v in vs]
    added = [parse_ts(r["date_added"]) for r in recs]
    assert added == sorted(added) and len(set(added)) == 3
    # default: latest version only
    latest = objects_of(coll.get_manifest(id=vs[0].id))
    assert [parse_ts(r["version"]) for r in latest] == [parse_ts(as_json(vs[2])["modified"])]


# --------------------------------------------------------------------------------------------
# delete


def test_delete_object(api_root):
    coll = by_title(api_root, "deletes")
    v1 = new_indicator("to delete")
    v2 = v1.new_version(modified=v1.modified + dt.timedelta(seconds=1), name="to delete v2")
    keep = new_indicator("keep me")
    st = coll.add_objects(envelope(v1, v2, keep))
    assert st.success_count == 3, st._raw
    assert len(coll.object_versions(v1.id).get("versions", [])) == 2

    coll.delete_object(v1.id)

    with pytest.raises(requests.HTTPError) as e:
        coll.get_object(v1.id)
    assert http_status(e) == 404
    with pytest.raises(requests.HTTPError) as e:
        coll.get_object(v1.id, version="all")
    assert http_status(e) == 404, "DELETE without match[version] removes every version"
    remaining = [r["id"] for r in objects_of(coll.get_manifest(version="all"))]
    assert v1.id not in remaining
    assert keep.id in remaining
    assert [o["id"] for o in objects_of(coll.get_objects(id=[v1.id, keep.id]))] == [keep.id]


def test_delete_one_version(api_root):
    coll = by_title(api_root, "deletes")
    v1 = new_indicator("partly deleted")
    v2 = v1.new_version(modified=v1.modified + dt.timedelta(seconds=1), name="partly deleted v2")
    v3 = v2.new_version(modified=v1.modified + dt.timedelta(seconds=2), name="partly deleted v3")
    coll.add_objects(envelope(v1, v2, v3))
    coll.delete_object(v1.id, version=as_json(v2)["modified"])
    left = coll.object_versions(v1.id).get("versions", [])
    assert sorted(parse_ts(v) for v in left) == [parse_ts(as_json(v)["modified"]) for v in (v1, v3)]


def test_delete_unknown_object_is_404(api_root):
    coll = by_title(api_root, "deletes")
    with pytest.raises(requests.HTTPError) as e:
        coll.delete_object("indicator--%s" % uuid.uuid4())
    assert http_status(e) == 404


# --------------------------------------------------------------------------------------------
# authentication


def test_basic_auth_wrong_password_is_401(discovery_url, api_root):
    bad = Server(discovery_url, user="admin", password="not-the-token-" + uuid.uuid4().hex)
    with pytest.raises(requests.HTTPError) as e:
        bad.title
    assert http_status(e) == 401
    assert "basic" in e.value.response.headers.get("WWW-Authenticate", "").lower()
    bad_root = ApiRoot(api_root.url, user="admin", password="wrong")
    with pytest.raises(requests.HTTPError) as e:
        bad_root.title
    assert http_status(e) == 401
    nobody = Server(discovery_url)
    with pytest.raises(requests.HTTPError) as e:
        nobody.title
    assert http_status(e) == 401


def test_bearer_token_session(discovery_url):
    server = Server(discovery_url, auth=BearerAuth(TOKEN))
    assert server.title == "isac-relay"
    root = server.default
    assert root is not None and TAXII21 in root.versions
    coll = by_title(root, "bearer")
    ind = new_indicator("via bearer")
    st = coll.add_objects(envelope(ind))
    assert st.success_count == 1 and st.failure_count == 0, st._raw
    assert root.get_status(st.id).success_count == 1
    assert [o["id"] for o in objects_of(coll.get_objects())] == [ind.id]
    coll.delete_object(ind.id)
    assert objects_of(coll.get_objects()) == []

    wrong = Server(discovery_url, auth=BearerAuth("x" * 40))
    with pytest.raises(requests.HTTPError) as e:
        wrong.title
    assert http_status(e) == 401


# --------------------------------------------------------------------------------------------
# federation: medallion (the OASIS reference server) as a third-party upstream source


MEDALLION_COLLECTION = "4f1c1a90-7b8e-4c53-9d5f-6b1f3f0a2e01"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def medallion():
    """medallion 3.0.0 on a free port, memory backend, one empty read/write collection."""
    exe = Path(os.sys.executable).parent / "medallion"
    tmp = Path(tempfile.mkdtemp(prefix="medallion-"))
    port = _free_port()
    base = "http://127.0.0.1:%d" % port
    data = {
        "/discovery": {"title": "medallion", "default": base + "/api1/", "api_roots": [base + "/api1/"]},
        "api1": {
            "information": {"title": "api1", "versions": [TAXII21], "max_content_length": 10485760},
            "status": [],
            "collections": [{
                "id": MEDALLION_COLLECTION, "title": "upstream", "can_read": True, "can_write": True,
                "media_types": [STIX21], "objects": [], "manifest": [],
            }],
        },
    }
    (tmp / "data.json").write_text(json.dumps(data))
    (tmp / "medallion.json").write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(tmp / "data.json")},
        "users": {"admin": "Password0"},
        "taxii": {"max_page_size": 2},
    }))
    proc = subprocess.Popen(
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARN", str(tmp / "medallion.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/taxii2/", auth=("admin", "Password0"),
                            headers={"Accept": TAXII21}, timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            pytest.fail("medallion exited (rc=%s)" % proc.returncode)
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("medallion did not answer")
    yield base + "/api1/"
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


def test_pull_from_medallion(medallion):
    upstream = Collection(medallion + "collections/%s/" % MEDALLION_COLLECTION, user="admin", password="Password0")
    sent = [new_indicator("upstream %d" % i) for i in range(5)]
    upstream.add_objects(envelope(*sent))

    srv = RelayServer()
    try:
        run = lambda *args, **kw: subprocess.run(  # noqa: E731
            [str(srv.bin), *args, "--data", str(srv.data)],
            env=srv.env, capture_output=True, text=True, timeout=120, **kw,
        )
        added = run("federation", "add", "medallion", "--direction", "pull", "--api-root", medallion,
                    "--collection", MEDALLION_COLLECTION, "--feed", "C2", "--user", "admin",
                    "--default-tlp", "green", input="Password0\n")
        assert added.returncode == 0, added.stderr
        synced = run("federation", "sync", "medallion")
        assert synced.returncode == 0, synced.stderr
        assert "medallion: 5 objects moved" in synced.stdout, synced.stdout
        # medallion pages by 2: three pages, and the bookmark makes the next run a no-op.
        again = run("federation", "sync", "medallion")
        assert "medallion: 0 objects moved" in again.stdout, again.stdout
        status = run("federation", "status")
        assert re.search(r"^medallion\t\S+\t\S+\t\S+\t5\t-$", status.stdout, re.M), status.stdout

        srv.start()
        api = ApiRoot(srv.url + "/taxii2/isac/", auth=BearerAuth(TOKEN))
        got = objects_of(by_title(api, "C2").get_objects())
        assert sorted(o["id"] for o in got) == sorted(o.id for o in sent)
        for o in got:
            assert o["pattern"] == next(s.pattern for s in sent if s.id == o["id"])
    finally:
        srv.stop()
        srv.cleanup()
