from platform_common.service import run_service
from results.app import MIGRATIONS, create_app
from results.config import SCHEMA, SERVICE, ResultsSettings

if __name__ == "__main__":
    run_service(service=SERVICE, settings_cls=ResultsSettings, create_app=create_app, schema=SCHEMA,
                migration_packages=MIGRATIONS)
