"""Stop `make test` at once, with the fix, when PostgreSQL or Redis does not answer."""

import os
import sys

HOW_TO_START = """\
Start them with Docker:
    docker compose up -d db redis
or on a Debian machine:
    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
or point the suite elsewhere:
    make test TEST_DATABASE_URL=postgres://... TEST_REDIS_URL=redis://..."""


def main() -> int:
    import environ
    import psycopg
    import redis

    problems = []
    db = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    try:
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"] or "postgres",
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {db['HOST']}:{db['PORT']} does not answer: {exc}".strip())
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {os.environ['REDIS_URL']} does not answer: {exc}")
    if problems:
        print("make test needs PostgreSQL and Redis.", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(HOW_TO_START, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
