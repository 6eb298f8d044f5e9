from files.app import MIGRATIONS, create_app
from files.config import SCHEMA, SERVICE, FilesSettings
from platform_common.service import run_service

if __name__ == "__main__":
    run_service(service=SERVICE, settings_cls=FilesSettings, create_app=create_app, schema=SCHEMA,
                migration_packages=MIGRATIONS)
