"""The Reactorcide coordinator: one HTTP session with a total deadline and retries
(`transport`, `deadline`), and job state and submission over it (`http`)."""
