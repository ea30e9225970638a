"""Git for the builtins: every command through one runner (`runner`), a live checkout
(`live`), ref expressions checked before git sees them (`refs`), and the changed files a
local run states (`given`)."""
