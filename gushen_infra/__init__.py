"""GuShen's production platform on K3s, as a Pulumi program."""
