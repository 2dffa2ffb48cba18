"""Helpers that component bodies import at run time (inside the function).

They live in this project, which the runtime image has installed, so components stay
short and behave the same on a laptop and on Kubeflow.
"""
