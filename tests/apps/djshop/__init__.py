"""A small Django project (with Django REST framework) served in the Django tests."""
