"""Online inference services: the server process, its supervisor and the service rows."""
