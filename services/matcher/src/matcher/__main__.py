from platform_common.service import run_service

from matcher.app import create_app
from matcher.config import SERVICE, MatcherSettings

if __name__ == "__main__":
    run_service(service=SERVICE, settings_cls=MatcherSettings, create_app=create_app)
