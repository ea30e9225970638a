"""The sandbox: the parent forks a child (`parent`), the child drops what it does not
need and evaluates (`child`, `fence`), and the two speak length-prefixed messages
(`protocol`). Inside the child, capabilities are proxies that ask the parent
(`proxies`); in the parent, the broker answers them from the real backends (`broker`).

Imports `engine.interpreter` and the layers below it; never `engine.run`.
"""
