"""Local fake servers of the platforms CourseSignal talks to, speaking their documented wire formats."""
