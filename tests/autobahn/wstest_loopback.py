# Runs Autobahn|Testsuite's wstest (Python 2.7) with every listening socket
# bound to 127.0.0.1: stock `wstest -m fuzzingserver` listens on all
# interfaces, and these tests must never be reachable from the network.
# Usage: python wstest_loopback.py <wstest arguments>   (always pass -u 0)
import sys

import autobahn.twisted.websocket as ws
import autobahntestsuite.fuzzing as fuzzing
from autobahntestsuite import wstest

_listen = ws.listenWS


def listen_loopback(factory, contextFactory=None, backlog=50, interface=''):
    return _listen(factory, contextFactory, backlog, '127.0.0.1')


ws.listenWS = listen_loopback
fuzzing.listenWS = listen_loopback

if '-u' not in sys.argv and not any(a.startswith('--webport') for a in sys.argv):
    # The embedded web UI would listen on 0.0.0.0:8080.
    sys.argv[1:1] = ['-u', '0']

wstest.run()
