"""adbandit's faces: the ``adbandit`` command line (HTTP API and review page to come)."""
