"""The operator CLI (`execctl`) and the stack client under it, for the local runtime and deployed stacks.

``operations`` reaches a stack only through the AWS APIs and the shared package's repositories, found from
the stack's outputs; ``cli`` is the command line over it. The local runtime and the tests use the same client.
"""
