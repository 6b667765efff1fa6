"""What the tests share: brokers, processes, waiting, golden envelopes. Fixtures that
use these live in ``tests/conftest.py``."""
