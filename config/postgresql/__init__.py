"""The PostgreSQL database backend of the site (ENGINE "config.postgresql")."""
