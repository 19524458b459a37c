"""The domain: one module per noun, plain values in, rows added and flushed, `Refusal` out.

Nothing here reads the request, the session, a form or a template, and nothing commits: the
view, command or job that called commits (see the README's code map).
"""
