"""The API's conventions, shared by every app's views: the tenant base view (every lookup
scoped to the caller's business), strict serializers, keyset pagination and rate limits."""
