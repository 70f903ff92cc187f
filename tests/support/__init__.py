"""Helpers the tests import (no fixtures, no tests): servers, SQL, CLI runs, SSE clients."""
