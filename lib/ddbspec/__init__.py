"""ddbspec: the 2018 DynamoDB practical workshop's design patterns as reusable code.

The pytest plugin (``ddbspec.plugin``) runs them as executable specifications.
"""

__version__ = "0.1.0"
