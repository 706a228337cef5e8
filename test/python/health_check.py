"""healthCheck of the agent tests: GET URL until it answers 200, at most 5 s (a SIGHUP is handled asynchronously)."""
import sys
import time
import urllib.request

deadline = time.time() + 5
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
            print("healthy:", response.read().decode())
            sys.exit(0)
    except Exception as error:
        if time.time() > deadline:
            print("unhealthy:", error)
            sys.exit(1)
        time.sleep(0.05)
