from matcher.app import MIGRATIONS, create_app
from matcher.config import SCHEMA, SERVICE, MatcherSettings
from platform_common.service import run_service

if __name__ == "__main__":
    run_service(
        service=SERVICE,
        settings_cls=MatcherSettings,
        create_app=create_app,
        schema=SCHEMA,
        migration_packages=MIGRATIONS,
    )
