"""Analysis across a project: saturation curves, axial-coding proposals, exports."""
