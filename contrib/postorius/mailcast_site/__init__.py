"""A minimal Django project that serves Postorius against mailcast's REST API."""
