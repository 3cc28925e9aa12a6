//! Checks that `openapi.json` documents exactly the control plane's routes.
