from django.urls import include, path
from rest_framework.routers import SimpleRouter

from djshop import views

router = SimpleRouter()
router.register("items", views.ItemViewSet, basename="item")

urlpatterns = [
    path("orders/<int:pk>/", views.get_order, name="order-detail"),
    path("reports/", views.ReportView.as_view()),
    path("boom/", views.boom, name="boom"),
    path("stream/", views.stream, name="stream"),
    path("stream-events/", views.stream_events, name="stream-events"),
    path("download/", views.download, name="download"),
    path("health/", views.health, name="health"),
    path("chain/<int:value>/", views.chain, name="chain"),
    path("api/", include(router.urls)),
]
