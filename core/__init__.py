"""CourseSignal's domain core: pure Python, standard library only."""
