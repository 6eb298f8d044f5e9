from platform_common.service import run_service
from projects.app import MIGRATIONS, create_app
from projects.config import SCHEMA, SERVICE, ProjectsSettings

if __name__ == "__main__":
    run_service(service=SERVICE, settings_cls=ProjectsSettings, create_app=create_app, schema=SCHEMA,
                migration_packages=MIGRATIONS)
