from gateway.app import MIGRATIONS, create_app
from gateway.config import SCHEMA, SERVICE, GatewaySettings
from platform_common.service import run_service

if __name__ == "__main__":
    run_service(service=SERVICE, settings_cls=GatewaySettings, create_app=create_app, schema=SCHEMA,
                migration_packages=MIGRATIONS)
