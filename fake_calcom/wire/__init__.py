"""The HTTP layer: parse -> call the backend -> serialize, in Cal.com's wire format."""
