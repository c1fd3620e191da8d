"""Stack configuration: read the ``gushen:`` namespace once and validate it into typed settings.

This is the only package that reads Pulumi config. Components receive the typed settings (or
values taken from them) as arguments. Every problem in the config is reported at once, one line
per problem, naming the key and quoting the value, before any resource is registered.

One module per component's settings (``nodes``, ``redis``, ``routing``, ``network``, ``backup``,
``monitoring``, ``adoption``), with the shared value types in ``values``, the secret keys in
``keys``, the wording of problems in ``messages``, placeholders in ``placeholders`` and the
reading and validation in ``loading``. Everything is re-exported here:
``from gushen_infra.config import X`` is the one way in.
"""

from __future__ import annotations

from .adoption import LIVE_OBJECTS, NOT_IMPORTABLE, Adopt, ObjectRef
from .app import App, Postgres
from .backup import (
    Backup, BackupRemote, BackupStorage, Count, Cron, PostgresBackup, RedisBackup, ResticRetention, TimeZone,
)
from .keys import (
    BACKUP_REMOTE_SECRETS, KEPT_SECRETS, NAMESPACE, OPTIONAL_SECRETS, REQUIRED_SECRETS, SECRET_KEYS,
    render_secrets, secret_command,
)
from .loading import deploying, load, offline, required_secrets, split_namespace, validate
from .messages import ConfigError, _format, _keys_at, _keys_of, _model_in, _quote, _set_command
from .monitoring import Monitoring, RedisExporter
from .network import PRIVATE_RANGES, Cidr, IpBlock, Labels, Network, NetworkPostgres
from .nodes import ApiTier, Autoscaling, ClusterNodes, HttpProbes, Nodes, Tier, WebTier
from .placeholders import (
    DOCUMENTATION_NETWORKS, PLACEHOLDER_WORD, RESERVED_DOMAINS, is_placeholder, placeholder_lines, placeholders,
)
from .redis import (
    Redis, RedisPersistence, RedisProbes, RedisProxy, RedisSentinel, RedisStorage, redis_bytes,
)
from .routing import CertManagerInstall, RateLimit, Routing, SecurityHeaders, Tls
from .settings import Secrets, Settings
from .values import (
    MIN_BYTES, AbsPath, Bool, Bytes, Compute, DnsLabel, Domain, Image, NodeName, Port, ProbeTiming, Quantity, Replicas,
    Resources, Url,
)
