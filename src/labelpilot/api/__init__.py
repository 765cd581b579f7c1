"""The ModelArts v2 routes and their request/response schemas."""
