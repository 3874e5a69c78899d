"""HTTP edge of the status API: settings, CORS and the one exception → HTTP response map."""
