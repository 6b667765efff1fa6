"""The application's own start-up hook: proves the launcher's hook still runs it."""

import os

os.environ["APP_SITECUSTOMIZE_RAN"] = "yes"
