"""GuShen's CrossGuard policy pack (``pulumi preview --policy-pack policies``) and its offline checker.

One module per topic holds the validators (pure functions over plain manifests) and their
``RULES``; :mod:`policies.catalog` lists them all, :mod:`policies.pack` adapts them to
pulumi_policy, :mod:`policies.check` runs them on manifest files.
"""
