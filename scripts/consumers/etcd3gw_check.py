"""Runs etcd3gw's own functional tests, plus a few checks they leave out, against
one server's JSON gateway (`/v3/...`).

Usage: etcd3gw_check.py http://127.0.0.1:PORT

etcd3gw's functional tests (etcd3gw.tests.test_etcd3gw, shipped in its package)
cover put/get, get_prefix, delete, transactions (create/replace), leases with
keys, watch and watch_prefix, and locks. They look for the server at
TOOZ_TEST_HTTP_URL and build clients on `localhost`; here every client is pointed
at 127.0.0.1 instead, and a test that skips because the server is unreachable
counts as a failure. The checks in `ExtraChecks` add what the suite does not
assert: a second locker held out while the first holds the lock, an explicit
transaction's both branches, keys deleted by a lease revoke, and delete events.

For every test that fails, the HTTP exchanges it made (request body, status,
response body) are printed, so that a failure names what was sent and what came
back.
"""

import os
import sys
import threading
import time
import unittest
import uuid
from urllib.parse import urlparse

if len(sys.argv) != 2:
    sys.exit(__doc__)
ENDPOINT = sys.argv[1].rstrip("/")
_url = urlparse(ENDPOINT)
os.environ["TOOZ_TEST_HTTP_URL"] = ENDPOINT
os.environ["TOOZ_TEST_ETCD_PORT"] = str(_url.port)
# oslotest's per-test timeout: a watch whose events never arrive fails its test
# instead of hanging the run.
os.environ.setdefault("OS_TEST_TIMEOUT", "20")
# Keeps the clients' debug logs out of the output (oslotest captures them).
os.environ.setdefault("OS_LOG_CAPTURE", "1")

import requests  # noqa: E402
from etcd3gw import utils  # noqa: E402
from etcd3gw.client import Etcd3Client  # noqa: E402

# --- every client on 127.0.0.1 ------------------------------------------------
_original_init = Etcd3Client.__init__


def _init_on_loopback(self, host="127.0.0.1", *args, **kwargs):
    if host == "localhost":
        host = "127.0.0.1"
    _original_init(self, host, *args, **kwargs)


Etcd3Client.__init__ = _init_on_loopback

# --- a record of the HTTP exchanges, printed for failing tests -----------------
_exchanges = []
_exchanges_lock = threading.Lock()
_original_request = requests.Session.request


def _recording_request(self, method, url, *args, **kwargs):
    body = kwargs.get("data")
    if body is None and kwargs.get("json") is not None:
        import json

        body = json.dumps(kwargs["json"])
    entry = {"request": f"{method} {url} {body or ''}".strip()}
    with _exchanges_lock:
        _exchanges.append(entry)
    try:
        resp = _original_request(self, method, url, *args, **kwargs)
    except Exception as e:  # recorded, then raised as before
        entry["response"] = f"raised {type(e).__name__}: {e}"
        raise
    if kwargs.get("stream"):
        entry["response"] = f"{resp.status_code} (streamed body)"
    else:
        entry["response"] = f"{resp.status_code} {resp.text[:600]}"
    return resp


requests.Session.request = _recording_request


class ExtraChecks(unittest.TestCase):
    """What etcd3gw's suite does not assert, through etcd3gw's public API."""

    @classmethod
    def setUpClass(cls):
        cls.client = Etcd3Client(host=_url.hostname, port=_url.port)

    def test_second_locker_held_out(self):
        name = f"held-out-{uuid.uuid4()}"
        first = self.client.lock(id=name, ttl=30)
        second = self.client.lock(id=name, ttl=30)
        self.assertTrue(first.acquire(), "the first locker gets a free lock")
        self.assertTrue(first.is_acquired())
        self.assertFalse(second.acquire(), "a second locker is held out")
        self.assertFalse(second.is_acquired())
        self.assertFalse(second.release(), "a locker that does not hold it cannot release it")
        self.assertTrue(first.is_acquired(), "the holder still holds it")
        self.assertTrue(first.release())
        self.assertTrue(second.acquire(), "the lock is free again after release")
        self.assertTrue(second.release())

    def test_transaction_branches(self):
        key = f"/txn/{uuid.uuid4()}"
        enc = utils._encode
        self.assertTrue(self.client.put(key, "v1"))
        other = key + "/other"

        def txn(expected):
            return self.client.transaction(
                {
                    "compare": [
                        {"key": enc(key), "result": "EQUAL", "target": "VALUE", "value": enc(expected)}
                    ],
                    "success": [
                        {"request_put": {"key": enc(key), "value": enc("v2")}},
                        {"request_put": {"key": enc(other), "value": enc("then")}},
                    ],
                    "failure": [{"request_range": {"key": enc(key)}}],
                }
            )

        failed = txn("not-v1")
        self.assertFalse(failed.get("succeeded", False), failed)
        kvs = failed["responses"][0]["response_range"]["kvs"]
        self.assertEqual(utils._decode(kvs[0]["value"]), b"v1")
        self.assertEqual([], self.client.get(other))

        done = txn("v1")
        self.assertTrue(done.get("succeeded"), done)
        self.assertEqual(2, len(done["responses"]), done)
        self.assertEqual([b"v2"], self.client.get(key))
        self.assertEqual([b"then"], self.client.get(other))

    def test_revoke_deletes_attached_keys(self):
        lease = self.client.lease(ttl=30)
        key = f"/lease/{uuid.uuid4()}"
        self.assertTrue(self.client.put(key, "held", lease))
        self.assertEqual([b"held"], self.client.get(key))
        self.assertTrue(0 < lease.refresh() <= 30)
        self.assertTrue(lease.revoke())
        self.assertEqual([], self.client.get(key))

    def test_watch_sees_put_and_delete(self):
        prefix = f"/watch-del/{uuid.uuid4()}/"
        events, cancel = self.client.watch_prefix(prefix)
        seen = []

        def writer():
            time.sleep(1)
            self.client.put(prefix + "a", "1")
            self.client.delete(prefix + "a")

        t = threading.Thread(target=writer)
        t.start()
        # Events that never arrive end the watch, and the assertion below fails.
        give_up = threading.Timer(15, cancel)
        give_up.start()
        for event in events:
            seen.append((event.get("type", "PUT"), event["kv"]["key"]))
            if len(seen) == 2:
                cancel()
        give_up.cancel()
        t.join()
        key = (prefix + "a").encode()
        self.assertEqual([("PUT", key), ("DELETE", key)], seen)


class Result(unittest.TextTestResult):
    """Prints the HTTP exchanges of a failing test."""

    def startTest(self, test):
        with _exchanges_lock:
            _exchanges.clear()
        super().startTest(test)

    def _dump(self, test):
        with _exchanges_lock:
            recent = list(_exchanges[-12:])
        self.stream.writeln(f"\n--- HTTP exchanges of {test.id()} (last {len(recent)}) ---")
        for e in recent:
            self.stream.writeln(f"  > {e['request'][:600]}")
            self.stream.writeln(f"  < {e.get('response', '(no response)')}")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def main():
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        [
            loader.loadTestsFromName("etcd3gw.tests.test_etcd3gw"),
            loader.loadTestsFromTestCase(ExtraChecks),
        ]
    )
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stdout, buffer=True).run(suite)
    ok = result.wasSuccessful()
    if result.skipped:
        print(f"FAIL: {len(result.skipped)} tests skipped; the server at {ENDPOINT} was not reachable")
        ok = False
    print(
        f"etcd3gw against {ENDPOINT}: {result.testsRun} tests, {len(result.failures)} failures, "
        f"{len(result.errors)} errors, {len(result.skipped)} skipped, {time.monotonic() - started:.0f}s"
    )
    # Watch threads may still block on a stream that a failing server left open.
    sys.stdout.flush()
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
