"""The ProviderRouter: every LM call of the set, with failover, circuit breakers, deadlines and a local LM."""
