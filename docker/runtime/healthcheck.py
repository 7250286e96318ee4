"""The runtime image's HEALTHCHECK: asks the app's health path (`[tool.hangar] health-path`).

No curl in the image: the standard library makes the request. The path must answer before host
validation (the load balancer probes by private IP), so no Host header is needed.
"""

import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ['HANGAR_CONTAINER_PORT']}{os.environ['HANGAR_HEALTH_PATH']}"
try:
    with urllib.request.urlopen(url, timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    sys.exit(f"{url}: {error}")
