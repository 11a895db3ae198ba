from ninja import NinjaAPI

api = NinjaAPI(title="Revline API", version="1", urls_namespace="api")
