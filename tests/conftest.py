"""Session-wide test settings.

Every test process gets its own device lock file: the agent's default (/tmp/edgemem-bench.lock) is
machine-wide on purpose (one bench at a time per device), so without this, `--host local` runs in
parallel test workers, or in two checkouts on one machine, would refuse each other as "busy".
Tests of the lock itself set their own path (tests/bench/conftest.py).
"""

import os
import tempfile

os.environ.setdefault("EDGEMEM_DEVICE_LOCK", os.path.join(tempfile.mkdtemp(prefix="edgemem-tests-"), "device.lock"))
