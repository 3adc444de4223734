"""CourseSignal charging its own customers: Stripe Checkout, the Customer Portal and billing notices."""
