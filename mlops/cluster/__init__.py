"""Ray clusters mlops starts or joins: connection, access (token, loopback), resource checks, the local head."""
