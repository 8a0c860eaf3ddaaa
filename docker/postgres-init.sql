-- One database per service (README, "The real stack"), owned by POSTGRES_USER (lotse), who runs this script.
-- The postgres image runs it once, when the data volume is empty; editing it later changes no existing server.
CREATE DATABASE lotse_gateway;
CREATE DATABASE lotse_scheduler;
CREATE DATABASE lotse_notifier;
