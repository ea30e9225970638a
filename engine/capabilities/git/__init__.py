"""Git for the builtins: every command through one runner (`runner`), asked once each
(`questions`), a live checkout (`live`) that says what history is missing (`history`),
ref expressions checked before git sees them (`refs`), remote URLs without credentials
(`urls`), the changed files a local run states (`given`), and a checkout described by
data for test cases (`memory`)."""
