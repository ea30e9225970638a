"""The Reactorcide coordinator: one HTTP session with a total deadline and retries
(`transport` over `retry`, `urls`, `errors` and `deadline`), job state and submission
over it (`http`), the backend a run uses, built on first use (`deferred`), and a
coordinator described by data for test cases (`memory`)."""
