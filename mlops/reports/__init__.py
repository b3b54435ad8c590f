"""Pages a person reads about registered versions: a model card per version (card.py) and a side-by-side
comparison of two versions (compare.py), each as Markdown and as one self-contained HTML page (render.py),
stored with the version in MLflow (store.py) and written by `mlops report`."""
